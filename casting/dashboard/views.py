"""The staff dashboard: a single-page app at `/` (plain ES modules from casting/dashboard/static/, no build step).

The page asks `GET /dashboard/config.json` how people sign in: through Auth0 (Authorization Code with
PKCE, done by the page itself) or, in development, through the local issuer, whose `POST /dev/token`
hands out a short-lived token for a role. That endpoint exists only while the local issuer does: with
Auth0 configured it is not registered at all, so it is a plain 404.
"""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, jsonify, make_response, render_template, request, send_from_directory
from pydantic import BaseModel, ConfigDict

from casting.errors import ApiError
from casting.schemas.text import Name
from casting.tokens.roles import ROLE_LABELS, ROLE_PERMISSIONS
from casting.web import ratelimit
from casting.web.parsing import json_body

DEV_TOKEN_SECONDS = 30 * 60
FAVICON_SECONDS = 24 * 60 * 60  # browsers ask for it by themselves, on every page: a day, then revalidated (ETag)


class _AssetBlueprint(Blueprint):
    def get_send_file_max_age(self, filename: str | None) -> int:
        # Revalidate every time (ETag): modules import each other by plain URLs, so a long
        # cache could mix old and new files after an upgrade.
        return 0


bp = _AssetBlueprint("dashboard", __name__, static_folder="static", static_url_path="/dashboard/assets",
                     template_folder="templates")
dev = Blueprint("dev", __name__)


def page_csp(auth0_domain: str | None) -> str:
    """The page's policy: nothing inline, nothing from elsewhere except the Auth0 token endpoint."""
    connect = "'self'" + (f" https://{auth0_domain}" if auth0_domain else "")
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src {connect}; manifest-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")


@bp.get("/")
def page():
    """The dashboard page."""
    response = make_response(render_template("dashboard/index.html"))
    response.headers["Content-Security-Policy"] = page_csp(current_app.config["AUTH0_DOMAIN"])
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/favicon.ico")
def favicon():
    """The dashboard's icon where browsers look for one by themselves, on every page of the site (the docs' too):
    the SVG, under its own content type, which browsers take at this address."""
    return send_from_directory(bp.static_folder, "icon.svg", mimetype="image/svg+xml", max_age=FAVICON_SECONDS)


@bp.get("/dashboard/config.json")
def client_config():
    """How the page signs people in: Auth0 (domain, client id, audience) or the local issuer's roles."""
    config = current_app.config
    if config["AUTH0_DOMAIN"]:
        return {"mode": "auth0", "domain": config["AUTH0_DOMAIN"], "client_id": config.get("AUTH0_CLIENT_ID"),
                "audience": config["API_AUDIENCE"]}
    return {"mode": "local", "roles": [
        {"id": role, "label": ROLE_LABELS[role], "permissions": permissions}
        for role, permissions in ROLE_PERMISSIONS.items()
    ]}


class DevTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal[tuple(ROLE_PERMISSIONS)]  # type: ignore[valid-type]
    # Who signs in: a person of their own in the history (casting.tokens.local_issuer.subject).
    name: Name | None = None


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


@dev.post("/dev/token")
@ratelimit.writes
def dev_token():
    """A short-lived token for a role from the local issuer (development only)."""
    if not (_loopback(request.remote_addr) and _loopback(urlsplit("//" + request.host).hostname)):
        # Anyone who reaches this could mint a producer's token: only this machine may, by a loopback name
        # (a page on another name that resolves here, DNS rebinding, is refused too).
        raise ApiError(403, "development tokens are handed out only on this machine (127.0.0.1 or localhost)")
    origin = request.headers.get("Origin")
    if origin is not None and origin != request.host_url.rstrip("/"):
        # CORS is open in development: other sites' pages must not collect tokens from here.
        raise ApiError(403, "development tokens are handed only to pages of this server")
    body = json_body(DevTokenRequest)
    token = current_app.extensions["local_issuer"].mint(body.role, expires_in=DEV_TOKEN_SECONDS, name=body.name)
    response = jsonify({"access_token": token, "token_type": "Bearer", "expires_in": DEV_TOKEN_SECONDS})
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Register the page; `/dev/token` only when the local issuer runs (call after auth.init_app)."""
    app.register_blueprint(bp)
    if app.extensions.get("local_issuer") is not None:
        app.register_blueprint(dev)
