"""Around every request: the request id, one structured access-log line, and the security headers."""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import sys
import time
import uuid

from flask import Flask, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from casting.config import cors_origins
from casting.errors import ApiError
from casting.schemas.values import REQUEST_ID_PATTERN

access_log = logging.getLogger("casting.access")
_CATALOGUE_VERSION = re.compile(r"[1-9][0-9]{0,17}")
_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)
_TERMINAL_STYLE = re.compile(r"\x1b\[[0-9;]*m")  # the development server colours its lines

API_CSP = "default-src 'none'; frame-ancestors 'none'"
# The pages (the dashboard, /docs) use no camera, microphone, location, payment or other powerful feature:
# none may be asked for, by the page or by anything it embeds.
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in (
    "accelerometer", "autoplay", "camera", "clipboard-read", "display-capture", "encrypted-media",
    "gamepad", "geolocation", "gyroscope", "hid", "idle-detection", "local-fonts", "magnetometer", "microphone",
    "midi", "payment", "publickey-credentials-get", "screen-wake-lock", "serial", "usb", "xr-spatial-tracking"))
# Swagger UI: its own script and styles from this origin; it sets inline styles and data: images.
DOCS_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name,
                 "message": _TERMINAL_STYLE.sub("", record.getMessage())}
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class DevServerRequestLines(logging.Filter):
    """Drops the development server's own per-request line (`make run`): the JSON access line has it.

    werkzeug writes it at INFO as `<address> - - [<date>] "%s" %s %s`; its errors and start-up lines pass.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.INFO and isinstance(record.msg, str)
                    and record.msg.rstrip().endswith('"%s" %s %s'))


def configure_logging() -> None:
    """JSON lines on stdout, once per process (gunicorn and the dev server alike)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def request_id() -> str:
    return g.get("request_id") or "-"


def client_address(value: str | None) -> str | None:
    """`value` as a normalized IP address, or None when it is not one."""
    try:
        return str(ipaddress.ip_address(value or ""))
    except ValueError:
        return None


def _forwarded_values_checked(wsgi_app):
    """ProxyFix copies the trusted X-Forwarded-* entries as they stand. A trusted proxy writes an IP address,
    http or https, and a port number; anything else was a client's invention (no proxy wrote it), so the
    values of the connection itself stay."""

    def checked(environ, start_response):
        original = environ.get("werkzeug.proxy_fix.orig", {})
        address = client_address(environ.get("REMOTE_ADDR"))
        if address is None:
            environ["REMOTE_ADDR"] = original.get("REMOTE_ADDR")
        else:
            environ["REMOTE_ADDR"] = address
        if environ.get("wsgi.url_scheme") not in ("http", "https"):
            environ["wsgi.url_scheme"] = original.get("wsgi.url_scheme")
        port = environ.get("SERVER_PORT") or ""
        if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            for key in ("SERVER_PORT", "HTTP_HOST"):
                environ[key] = original.get(key)
        return wsgi_app(environ, start_response)

    return checked


def init_app(app: Flask) -> None:
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, DevServerRequestLines) for f in werkzeug.filters):
        werkzeug.addFilter(DevServerRequestLines())
    hops = app.config["TRUSTED_PROXY_COUNT"]
    if hops:
        # The proxies in front (Heroku's router: one) append to X-Forwarded-For/-Proto/-Port: believe exactly
        # that many entries, counted from the end. Neither Heroku's router nor a usual nginx set
        # X-Forwarded-Host, so a client could: never trusted. Without proxies the headers are the client's own.
        app.wsgi_app = ProxyFix(_forwarded_values_checked(app.wsgi_app), x_for=hops, x_proto=hops, x_host=0,
                                x_port=hops)

    # With named origins, an answer's Access-Control-Allow-Origin depends on the request's Origin: every
    # answer says so, so that no shared cache hands one origin's answer (or a non-CORS one) to another.
    vary_origin = cors_origins(app.config) != ["*"]

    @app.before_request
    def _start():
        g.started = time.perf_counter()
        sent = request.headers.get("X-Request-ID", "")
        g.request_id = sent if _REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        if request.environ.get("SERVER_PROTOCOL") == "HTTP/1.1" and not request.environ.get("HTTP_HOST"):
            # RFC 9112, section 3.2: a server must answer 400 to an HTTP/1.1 request without a Host header.
            raise ApiError(400, "an HTTP/1.1 request must carry a Host header")
        sent_version = request.headers.get("Catalogue-Version")
        if sent_version is not None and not _CATALOGUE_VERSION.fullmatch(sent_version.strip()):
            # The header is a version this API answered, sent back: anything else is a client's mistake, said.
            raise ApiError(400, "Catalogue-Version must be a catalogue version this API answered "
                                "(a whole number from 1)")

    @app.after_request
    def _finish(response):
        response.headers["X-Request-ID"] = request_id()
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("X-Frame-Options", "DENY")
        if response.mimetype == "text/html":
            response.headers["Permissions-Policy"] = PERMISSIONS_POLICY
            # A page this one opens, or that opens it, from another origin gets no handle on its window.
            response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if request.endpoint and request.endpoint.startswith("docs."):
            response.headers["Content-Security-Policy"] = DOCS_CSP
        elif response.mimetype == "application/json":
            response.headers["Content-Security-Policy"] = API_CSP
        if request.headers.get("Authorization") or g.get("claims"):
            response.headers["Cache-Control"] = "no-store"
        elif (response.mimetype == "application/json" or response.status_code == 304) \
                and "Cache-Control" not in response.headers:
            # Public answers (PUBLIC_READS, /health, errors): a cache may keep them, but must ask again (the
            # ETag makes that cheap) before it reuses one. A 304 carries what its 200 would (RFC 9110, 15.4.5).
            response.headers["Cache-Control"] = "no-cache"
        if vary_origin:
            response.vary.add("Origin")
        if app.config["PRODUCTION"]:
            response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        claims = g.get("claims")
        started = g.get("started", time.perf_counter())
        access_log.info("%s %s %s", request.method, request.path, response.status_code, extra={"fields": {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "request_id": request_id(),
            "sub": claims["sub"] if claims else None,
            "db": g.get("read_source"),  # the database that answered the reads: "primary" or a follower
            "remote_addr": request.remote_addr,
        }})
        return response
