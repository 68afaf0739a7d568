"""The app under gunicorn, as the Procfile runs it, on a free port of 127.0.0.1; fleets of such instances."""

from __future__ import annotations

from pathlib import Path

from tests.utils.environment import GUNICORN
from tests.utils.jwks_server import JwksServer
from tests.utils.processes import Process, Server, free_port, server_env
from tests.utils.tokens import PROD_AUDIENCE, PROD_DOMAIN, PROD_ISSUER

# What the browser and client tests' servers run with: no rate limits, room for a page's parallel requests.
LIVE_SETTINGS = {"RATE_LIMIT_DISABLED": "true", "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4"}


def start_gunicorn(directory: Path, name: str, **settings: str | None) -> Server:
    """`gunicorn --config gunicorn.conf.py 'app:create_app()'` on a free port of 127.0.0.1, once /health answers;
    tried again when someone else took the port first. Nothing it started is left running when it fails."""
    argv = [GUNICORN, "--config", "gunicorn.conf.py", "app:create_app()"]
    for attempt in range(5):
        port = free_port()
        process = Process(f"{name}#{attempt}", argv, server_env(PORT=str(port), BIND_HOST="127.0.0.1", **settings),
                          directory / f"{name}-{attempt}.log")
        server = Server(process, port)
        try:
            healthy = server.wait_healthy(port_clash_ok=attempt < 4)
        except BaseException:
            process.stop()
            raise
        if healthy:
            return server
        process.stop()  # it lost the port; reap it
    raise AssertionError("unreachable")


class Fleet:
    """Starts gunicorn instances; `close()` stops them all (a failed test's report shows the end of their logs)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.processes: list[Process] = []

    def gunicorn(self, name: str, **settings: str | None) -> Server:
        server = start_gunicorn(self.directory, name, **settings)
        self.processes.append(server.process)
        return server

    def close(self) -> None:
        for process in self.processes:
            process.stop()



def production(database: str, issuer: JwksServer, **settings: str | None) -> dict[str, str | None]:
    """A production deployment's settings with a stand-in issuer, and no APP_ENV at all: production is the
    default."""
    return {"APP_ENV": None, "DATABASE_URL": database, "AUTH0_DOMAIN": PROD_DOMAIN, "API_AUDIENCE": PROD_AUDIENCE,
            "JWKS_URL": issuer.url, "TOKEN_ISSUER": PROD_ISSUER, "ALLOW_TEST_ISSUER": "true", **settings}
