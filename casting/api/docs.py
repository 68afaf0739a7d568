"""The API's own documentation: `/openapi.json` (the document, built once per app) and `/docs` (Swagger UI,
served from the installed package: no CDN)."""

from __future__ import annotations

from pathlib import Path

import swagger_ui
from flask import Blueprint, current_app, render_template, send_from_directory

from casting.openapi.document import build
from casting.openapi.tables import TITLE

SWAGGER_ASSETS = Path(swagger_ui.__file__).parent / "static"
HERE = Path(__file__).parent
bp = Blueprint("docs", __name__, static_folder=str(SWAGGER_ASSETS), static_url_path="/docs/assets",
               template_folder="templates")


@bp.get("/openapi.json")
def spec():
    """The OpenAPI 3.1 document."""
    if "openapi_document" not in current_app.extensions:
        current_app.extensions["openapi_document"] = build(current_app)
    return current_app.extensions["openapi_document"]


@bp.get("/docs")
def page():
    """Interactive documentation (Swagger UI served from the installed package: no CDN)."""
    return render_template("docs.html", title=TITLE)


@bp.get("/docs/start.js")
def start_script():
    """The script that starts Swagger UI on the page (a file, not inline, so the page works under a strict CSP)."""
    return send_from_directory(HERE / "static", "docs.js")
