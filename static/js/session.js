// Idle-timeout warning: shows #idle-warning shortly before the server ends an idle session,
// and reloads the page once it has (the server then asks for sign-in). Without JS the server
// still enforces the timeout; only the warning is missing.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("idle-warning");
    if (!box) return;
    var idle = parseInt(box.getAttribute("data-idle-seconds"), 10) * 1000;
    var warn = parseInt(box.getAttribute("data-warning-seconds"), 10) * 1000;
    if (!(idle > 0)) return;
    var warnTimer, endTimer;
    function arm() {
      clearTimeout(warnTimer);
      clearTimeout(endTimer);
      box.hidden = true;
      warnTimer = setTimeout(function () { box.hidden = false; }, Math.max(idle - warn, 0));
      endTimer = setTimeout(function () { window.location.reload(); }, idle + 1000);
    }
    // Any HTMX request reaches the server and counts as activity.
    document.body.addEventListener("htmx:afterRequest", arm);
    arm();
  });
})();
