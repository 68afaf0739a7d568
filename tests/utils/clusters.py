"""Private PostgreSQL clusters and PgBouncer for the tests that need a database of their own: one to stop and start
(tests/deployment/test_database_outage.py), a primary with a streaming follower (test_followers.py), a pooler in
transaction mode in front of the test database (test_pgbouncer.py). Each runs from the PostgreSQL binaries
(initdb, pg_ctl, pg_basebackup -R) or Debian's pgbouncer, as `postgres` when the tests run as root, on a free port
of 127.0.0.1 and in a temporary directory of its own, which `remove()` deletes after stopping it. The shared
cluster on 5432 is never touched."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from casting import config
from tests.utils.environment import unavailable
from tests.utils.processes import LogFile, Process, free_port, tail

AS_ROOT = os.geteuid() == 0


def postgres_bindir() -> Path | None:
    found = shutil.which("pg_config")
    if found:
        result = subprocess.run([found, "--bindir"], capture_output=True, text=True, timeout=10)
        candidate = Path(result.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else None


def required_bindir() -> Path:
    """The PostgreSQL server binaries, or the test skips (fails under CI=true) saying what is missing."""
    bindir = postgres_bindir()
    if bindir is None:
        unavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    if AS_ROOT and not shutil.which("runuser"):
        unavailable("running as root without runuser: initdb cannot run")
    return bindir


def _private_dir(prefix: str) -> Path:
    made = Path(tempfile.mkdtemp(prefix=prefix))
    if AS_ROOT:
        shutil.chown(made, "postgres", "postgres")
    return made


class Cluster:
    """A PostgreSQL cluster of its own in a temp dir, on its own port (run as `postgres` when we are root)."""

    def __init__(self, bindir: Path, name: str = "PostgreSQL cluster"):
        self.bindir = bindir
        self.dir = _private_dir("casting-pg-")
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.log_file = LogFile(f"{name} on port {self.port}", self.dir / "server.log")

    def run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if AS_ROOT else []
        return subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=timeout, cwd=self.dir)

    def initdb(self) -> None:
        result = self.run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                          "-E", "UTF8", "--no-sync")
        assert result.returncode == 0, f"initdb failed:\n{result.stdout}\n{result.stderr}"

    def base_backup_of(self, primary: Cluster) -> None:
        """Make this cluster a streaming follower of `primary` (pg_basebackup -R: standby.signal and
        primary_conninfo), to be started with start()."""
        result = self.run(str(self.bindir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
                          "-U", "postgres", "-D", str(self.data), "-R", "-X", "stream", "-c", "fast", "--no-sync",
                          timeout=120)
        assert result.returncode == 0, f"pg_basebackup failed:\n{result.stdout}\n{result.stderr}"

    def start(self) -> None:
        options = f"-k {self.dir} -p {self.port} -c listen_addresses=127.0.0.1"
        result = self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"),
                          "-o", options, "-w", "-t", "30", "start")
        assert result.returncode == 0, f"pg_ctl start failed:\n{result.stdout}\n{result.stderr}\n{self.log()}"

    def stop(self, mode: str = "immediate") -> None:
        result = self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")
        assert result.returncode == 0, f"pg_ctl stop failed:\n{result.stdout}\n{result.stderr}"

    def promote(self) -> None:
        result = self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", "-t", "30", "promote")
        assert result.returncode == 0, f"pg_ctl promote failed:\n{result.stdout}\n{result.stderr}"

    def running(self) -> bool:
        if not self.data.exists():
            return False
        return self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "status", timeout=20).returncode == 0

    def sql(self, statement: str, **values):
        """One statement on a connection of its own, as the superuser, in autocommit; its first column's first
        value (None when it returns no rows)."""
        engine = create_engine(config.database_url(self.url, "."), poolclass=NullPool, isolation_level="AUTOCOMMIT",
                               connect_args={"connect_timeout": 5})
        try:
            with engine.connect() as connection:
                result = connection.execute(text(statement), values)
                return result.scalar() if result.returns_rows else None
        finally:
            engine.dispose()

    def log(self) -> str:
        return tail(self.dir / "server.log", 5000)

    def remove(self) -> None:
        try:
            if self.running():
                self.stop("immediate")
        finally:
            self.log_file.close()
            shutil.rmtree(self.dir, ignore_errors=True)


class PgBouncer:
    """Debian's pgbouncer in transaction pooling mode on a free port of 127.0.0.1, in front of the PostgreSQL that
    `database_url` names (any database on it, as its role): `pool_size` server connections per database and user.
    Clients connect without a password (auth_type trust); the role's password, from `database_url`, is in the
    auth_file pgbouncer logs in to PostgreSQL with. `url(database_url)` is the same database through it."""

    def __init__(self, database_url: str, pool_size: int):
        binary = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)
        if binary is None:
            unavailable("pgbouncer is not installed (apt-get install pgbouncer; .ci/run installs it)")
        server = make_url(database_url)
        self.dir = _private_dir("casting-pgbouncer-")
        self.port = free_port()
        user, password = server.username or "postgres", server.password or ""
        auth_file = self.dir / "users.txt"
        auth_file.write_text(f'"{user}" "{password}"\n')
        auth_file.chmod(0o600)
        ini = self.dir / "pgbouncer.ini"
        ini.write_text("\n".join([
            "[databases]",
            f"* = host={server.host or '127.0.0.1'} port={server.port or 5432}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {self.port}",
            "unix_socket_dir =",
            "pool_mode = transaction",
            f"default_pool_size = {pool_size}",
            "min_pool_size = 0",
            "reserve_pool_size = 0",
            "max_client_conn = 500",
            "auth_type = trust",
            f"auth_file = {auth_file}",
            "server_login_retry = 1",
            *(["user = postgres"] if AS_ROOT else []),
            "",
        ]))
        for made in (auth_file, ini):
            if AS_ROOT:
                shutil.chown(made, "postgres", "postgres")
        self.process = Process(f"pgbouncer on port {self.port}", [binary, str(ini)], os.environ.copy(),
                               self.dir / "pgbouncer.log")
        self._wait_listening()

    def _wait_listening(self, seconds: float = 20) -> None:
        import socket

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process.proc.poll() is None, f"pgbouncer exited:\n{self.process.output()}"
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.1)
        raise AssertionError(f"pgbouncer did not listen on {self.port} within {seconds} s:\n{self.process.output()}")

    def url(self, database_url: str) -> str:
        """`database_url`'s database and role through the pooler (no password: pgbouncer trusts its clients)."""
        return make_url(database_url).set(host="127.0.0.1", port=self.port, password=None).render_as_string(
            hide_password=False)

    def stop(self) -> None:
        try:
            self.process.stop(signal.SIGTERM, seconds=10)  # SIGTERM: pgbouncer's immediate shutdown
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
