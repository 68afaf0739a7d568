"""Around every request: the request id, one structured access-log line, and the security headers."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid

from flask import Flask, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

access_log = logging.getLogger("casting.access")
# A request id the client sends is kept when it looks like this (the OpenAPI document quotes it).
REQUEST_ID_PATTERN = r"[A-Za-z0-9._:-]{1,128}"
_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)
_TERMINAL_STYLE = re.compile(r"\x1b\[[0-9;]*m")  # the development server colours its lines

API_CSP = "default-src 'none'; frame-ancestors 'none'"
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


def init_app(app: Flask) -> None:
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, DevServerRequestLines) for f in werkzeug.filters):
        werkzeug.addFilter(DevServerRequestLines())
    if app.config["PRODUCTION"]:
        # Heroku's router is the one proxy in front: trust exactly one hop of the X-Forwarded-* headers
        # it sets (For, Proto, Port). It does not set X-Forwarded-Host, so a client could: not trusted.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=0, x_port=1)

    @app.before_request
    def _start():
        g.started = time.perf_counter()
        sent = request.headers.get("X-Request-ID", "")
        g.request_id = sent if _REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex

    @app.after_request
    def _finish(response):
        response.headers["X-Request-ID"] = request_id()
        if response.status_code not in (429, 503):
            response.headers.pop("Retry-After", None)  # the rate limiter adds it everywhere; it means "wait"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.endpoint and request.endpoint.startswith("docs."):
            response.headers["Content-Security-Policy"] = DOCS_CSP
        elif response.mimetype == "application/json":
            response.headers["Content-Security-Policy"] = API_CSP
        if request.headers.get("Authorization") or g.get("claims"):
            response.headers["Cache-Control"] = "no-store"
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
            "remote_addr": request.remote_addr,
        }})
        return response
