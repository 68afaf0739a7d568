"""Liveness and readiness: `/health` (the process answers) and `/ready` (the database answers)."""

from __future__ import annotations

from flask import Blueprint, g
from sqlalchemy import text

from casting.openapi.document import operation
from casting.schemas.responses import Health, Ready
from casting.web import followers
from casting.web.transactions import reader, safe_read

bp = Blueprint("health", __name__)


@bp.get("/health")
@operation(Health)
def health():
    """The process is up (no database involved)."""
    return {"status": "ok"}


@bp.get("/ready")
@operation(Ready, errors=(500, 503))
@safe_read
def ready():
    """The database answers: 200 (with each read follower's state), or a 503 error when it cannot be reached."""
    # Readiness is the primary's: a follower out of rotation does not make the app unready (reads go to the
    # primary meanwhile); the answer says which are in rotation, how far behind each is, and why one is not.
    g.primary_only = True
    reader().execute(text("SELECT 1"))
    return {"status": "ready", **(followers.status() or {})}
