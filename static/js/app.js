// Progressive enhancements only: every page works without this file.
(function () {
  "use strict";
  // Copy buttons, also in content HTMX swaps in later (an electricity token arriving).
  function copyButtons(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      var source = document.querySelector(button.getAttribute("data-copy"));
      if (!source || !navigator.clipboard || button.dataset.copyReady) return;
      button.dataset.copyReady = "1";
      button.hidden = false;
      button.addEventListener("click", function () {
        var text = source.textContent.trim();
        // A card number is copied as digits only, the way payment forms take it.
        if (button.hasAttribute("data-copy-compact")) text = text.replace(/\s+/g, "");
        navigator.clipboard.writeText(text).then(function () {
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = "Copy"; }, 2000);
        });
      });
    });
  }
  document.addEventListener("htmx:load", function (event) { copyButtons(event.detail.elt); });
  document.addEventListener("DOMContentLoaded", function () {
    copyButtons(document);
    // The balance card's hide toggle, remembered on this device. Without JavaScript there is no
    // toggle and the balances show.
    document.querySelectorAll("[data-balance-toggle]").forEach(function (button) {
      var card = document.querySelector(button.getAttribute("data-balance-toggle"));
      if (!card) return;
      var KEY = "lumipay.hideBalance";
      function stored() { try { return localStorage.getItem(KEY) === "1"; } catch (e) { return false; } }
      function apply(hide) {
        card.classList.toggle("balances-hidden", hide);
        button.setAttribute("aria-pressed", hide ? "true" : "false");
      }
      apply(stored());
      button.hidden = false;
      button.addEventListener("click", function () {
        var hide = !card.classList.contains("balances-hidden");
        try { localStorage.setItem(KEY, hide ? "1" : "0"); } catch (e) { /* private mode: this page only */ }
        apply(hide);
      });
    });
    // Receipts: Share where the browser has Web Share (the PDF itself when it can take files,
    // else the link), Copy link where it has only the clipboard.
    var status = document.getElementById("share-status");
    function say(text) { if (status) status.textContent = text; }
    document.querySelectorAll("[data-share]").forEach(function (button) {
      if (!navigator.share) return;
      button.hidden = false;
      var title = button.getAttribute("data-share-title");
      var link = button.getAttribute("data-share-url");
      button.addEventListener("click", function () {
        fetch(button.getAttribute("data-share-file"), { credentials: "same-origin" })
          .then(function (answer) { return answer.ok ? answer.blob() : null; })
          .catch(function () { return null; })
          .then(function (blob) {
            var file = blob && new File([blob], title.replace(/\s+/g, "-") + ".pdf", { type: "application/pdf" });
            var data = file && navigator.canShare && navigator.canShare({ files: [file] })
              ? { title: title, files: [file] } : { title: title, url: link };
            return navigator.share(data);
          })
          .catch(function () { /* the customer closed the share sheet */ });
      });
    });
    document.querySelectorAll("[data-copy-link]").forEach(function (button) {
      if (navigator.share || !navigator.clipboard) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(button.getAttribute("data-copy-link")).then(function () {
          button.textContent = "Link copied";
          say("Link copied");
          setTimeout(function () { button.textContent = "Copy link"; }, 2000);
        });
      });
    });
    // Without JavaScript the browser's own Print command does the same, with the same print CSS.
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  });
})();
