"""gunicorn settings for `web:` in the Procfile (and for local runs: `gunicorn 'app:create_app()'`). The
environment variables and their defaults are config.SETTINGS (docs/configuration.md)."""

import os

from casting.config import setting

# Heroku routes to 0.0.0.0:$PORT; anywhere else listen on loopback unless told otherwise.
_host = setting("BIND_HOST") or ("0.0.0.0" if "DYNO" in os.environ else "127.0.0.1")  # noqa: S104
bind = f"{_host}:{setting('PORT')}"
workers = int(setting("WEB_CONCURRENCY"))
# gthread, hardened so that a few slow clients cannot hold up the others (casting/worker.py): each worker
# serves `threads` requests at a time and accepts no connection while they are all taken.
worker_class = "casting.worker.ThreadWorker"
threads = int(setting("GUNICORN_THREADS"))
# Under the Heroku router's 30 s: a request still running (or still being sent) after this long has its
# connection closed before the router gives up on it; a worker that stops answering is restarted.
timeout = int(setting("GUNICORN_TIMEOUT"))
graceful_timeout = 20
keepalive = 5
# The app is built in each worker after the fork (no preload), so no database
# connection or pool is ever shared between processes.
preload_app = False
# Room for an oversized Authorization header to reach the app, which answers it
# with its JSON 401 instead of gunicorn's HTML 400.
limit_request_field_size = 32768
# gunicorn itself believes X-Forwarded-Proto (and friends) from 127.0.0.1 by default. The app decides which
# forwarded headers count (TRUSTED_PROXY_COUNT, casting/web/middleware.py): gunicorn believes none, from any peer.
forwarded_allow_ips = ""
# The access log: the app writes one JSON line per request to stdout (method,
# path, status, duration, request id, token subject), so gunicorn's own access
# log stays off rather than logging every request twice. Errors go to stderr.
accesslog = None
# gunicorn 27's control socket (for `gunicornc`) would be one path per user ($XDG_RUNTIME_DIR/gunicorn.ctl or
# ~/.gunicorn/gunicorn.ctl) that every instance on the host takes over from the last: off. Nothing here uses it.
control_socket_disable = True
errorlog = "-"
loglevel = setting("LOG_LEVEL")


def post_worker_init(worker):
    """Each worker pays its first-request costs (statements built, the key set fetched, Redis reached) before it
    takes a request, bounded in time and never failing its start (casting/api/warmup.py)."""
    from casting.api.warmup import warm

    warm(worker.wsgi)
