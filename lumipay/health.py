"""GET /healthz: is the database up (and which engine it is), is Redis up."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from werkzeug.wrappers import Response

from lumipay import settings
from lumipay.extensions import db, redis_connection

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz() -> tuple[Response, int]:
    checks: dict[str, str] = {}
    try:
        # The product name from version() ("PostgreSQL"), not the version: this page is public.
        engine = db.session.scalar(text("SELECT split_part(version(), ' ', 1)"))
        db.session.rollback()
        checks["database"], checks["database_engine"] = "ok", str(engine)
    except Exception as exc:
        current_app.logger.warning("healthz: database check failed: %s", exc)
        db.session.rollback()
        checks["database"], checks["database_engine"] = "down", "unknown"
    if settings.core().redis_url:
        try:
            redis_connection().ping()
            checks["redis"] = "ok"
        except Exception as exc:
            current_app.logger.warning("healthz: redis check failed: %s", exc)
            checks["redis"] = "down"
    else:
        checks["redis"] = "not configured (jobs run in-process)"
    status = 200 if checks["database"] == "ok" else 503
    return jsonify(status="ok" if status == 200 else "degraded", **checks), status
