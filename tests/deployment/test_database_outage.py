"""The database goes away and comes back: gunicorn on a throwaway PostgreSQL cluster of its own (initdb, pg_ctl, as
`postgres` when run as root) answers a fast 503 with Retry-After while it is down, keeps /health up, and recovers
without a restart once it is back, with every acknowledged write kept and none of the refused ones."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.utils.asserters import assert_error, retry_after
from tests.utils.environment import unavailable
from tests.utils.postgres import migrate
from tests.utils.processes import (
    LogFile,
    free_port,
    tail,
)
from tests.utils.records import actor_body

# --- a throwaway PostgreSQL cluster ----------------------------------------------------------------------------------


def postgres_bindir() -> Path | None:
    found = shutil.which("pg_config")
    if found:
        result = subprocess.run([found, "--bindir"], capture_output=True, text=True, timeout=10)
        candidate = Path(result.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else None


class Cluster:
    """A PostgreSQL cluster of its own in a temp dir, on its own port (run as `postgres` when we are root)."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="casting-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.as_root = os.geteuid() == 0
        self.log_file = LogFile(f"PostgreSQL cluster on port {self.port}", self.dir / "server.log")
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")

    def run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        return subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=timeout, cwd=self.dir)

    def initdb(self) -> None:
        result = self.run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                          "-E", "UTF8", "--no-sync")
        assert result.returncode == 0, f"initdb failed:\n{result.stdout}\n{result.stderr}"

    def start(self) -> None:
        options = f"-k {self.dir} -p {self.port} -c listen_addresses=127.0.0.1"
        result = self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"),
                          "-o", options, "-w", "-t", "30", "start")
        assert result.returncode == 0, f"pg_ctl start failed:\n{result.stdout}\n{result.stderr}\n{self.log()}"

    def stop(self, mode: str = "immediate") -> None:
        result = self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")
        assert result.returncode == 0, f"pg_ctl stop failed:\n{result.stdout}\n{result.stderr}"

    def running(self) -> bool:
        if not self.data.exists():
            return False
        return self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "status", timeout=20).returncode == 0

    def log(self) -> str:
        return tail(self.dir / "server.log", 5000)

    def remove(self) -> None:
        try:
            if self.running():
                self.stop("immediate")
        finally:
            self.log_file.close()
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster():
    bindir = postgres_bindir()
    if bindir is None:
        unavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        unavailable("running as root without runuser: initdb cannot run")
    made = Cluster(bindir)
    try:
        made.initdb()
        made.start()
        yield made
    finally:
        made.remove()


# --- the database goes away and comes back ---------------------------------------------------------------------


def test_database_outage_is_a_fast_503_and_recovers_without_a_restart(cluster, fleet, local_pem, local_issuer):
    migrate(cluster.url, local_pem)
    server = fleet.gunicorn("dyno-outage", DATABASE_URL=cluster.url, LOCAL_ISSUER_PRIVATE_KEY=local_pem,
                            WEB_CONCURRENCY="2")
    token = local_issuer.mint("casting-director", sub=f"outage|{uuid.uuid4().hex}")
    acknowledged: dict[int, str] = {}
    for i in range(6):
        response = server.request("POST", "/actors", token, json=actor_body(f"Survivor {i}"))
        assert response.status_code == 201, response.text
        acknowledged[response.json()["actor"]["id"]] = f"Survivor {i}"
    some_id = next(iter(acknowledged))

    cluster.stop("immediate")
    api_calls = [
        ("GET", "/actors", None), ("GET", f"/actors/{some_id}", None), ("GET", "/movies", None),
        ("GET", f"/actors/{some_id}/movies", None), ("POST", "/actors", actor_body("Lost While Down")),
        ("PATCH", f"/actors/{some_id}", {"age": 41}), ("DELETE", f"/actors/{some_id}", None),
    ]
    for _round in range(3):  # a few rounds, so that both workers meet the outage
        for method, path, body in api_calls:
            started = time.monotonic()
            response = server.request(method, path, token, json=body)
            elapsed = time.monotonic() - started
            assert elapsed < 3, f"{method} {path} took {elapsed:.1f} s with the database down"
            assert_error(response, 503)
            retry_after(response)
        started = time.monotonic()
        ready = server.request("GET", "/ready")
        assert time.monotonic() - started < 3
        assert_error(ready, 503)
        retry_after(ready)
        health = server.request("GET", "/health")
        assert health.status_code == 200 and health.json() == {"status": "ok"}

    cluster.start()
    deadline = time.monotonic() + 20
    statuses: list[int] = []
    while time.monotonic() < deadline:
        statuses = [server.request("GET", "/actors", token, timeout=5).status_code for _ in range(4)]
        if statuses == [200] * 4:
            break
        time.sleep(0.25)
    assert statuses == [200] * 4, f"still {statuses} 20 s after the database came back"
    assert server.process.proc.poll() is None, "gunicorn had to restart"
    assert server.request("GET", "/ready").status_code == 200

    for actor_id, name in acknowledged.items():
        response = server.request("GET", f"/actors/{actor_id}", token)
        assert response.status_code == 200, (actor_id, response.text)
        assert response.json()["actor"]["name"] == name
    listed = server.request("GET", "/actors", token, params={"per_page": "100"})
    assert listed.status_code == 200
    assert sorted(a["id"] for a in listed.json()["actors"]) == sorted(acknowledged), "a 503 wrote something"
    assert listed.json()["total"] == len(acknowledged)
