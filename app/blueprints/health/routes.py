"""GET /healthz: database, Redis and worker liveness as JSON."""
from __future__ import annotations

from flask import Blueprint, jsonify
from rq import Worker
from sqlalchemy import text

from app.extensions import db, queues

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 when the database and Redis answer; workers are reported, not required."""
    report: dict = {}
    try:
        db.session.execute(text("SELECT 1"))
        report["database"] = {"ok": True, "dialect": db.engine.dialect.name}
    except Exception as exc:  # report, don't raise: this endpoint must always answer
        report["database"] = {"ok": False, "error": type(exc).__name__}
    finally:
        db.session.rollback()
    try:
        queues.connection.ping()
        workers = Worker.all(connection=queues.connection)
        report["redis"] = {"ok": True}
        report["workers"] = {"ok": bool(workers), "count": len(workers),
                             "names": sorted(w.name for w in workers)}
    except Exception as exc:
        report["redis"] = {"ok": False, "error": type(exc).__name__}
        report["workers"] = {"ok": False, "count": 0}
    try:  # informative only: an open breaker means failover, not an unhealthy platform
        from app.providers.registry import breaker_states

        report["providers"] = breaker_states()
    except Exception as exc:
        report["providers"] = {"error": type(exc).__name__}
    healthy = report["database"]["ok"] and report["redis"]["ok"]
    report["status"] = "ok" if healthy and report["workers"]["ok"] else (
        "degraded" if healthy else "down")
    return jsonify(report), 200 if healthy else 503
