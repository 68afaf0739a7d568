"""Issue 24's PgBouncer figures: a private PgBouncer in transaction pooling mode in front of the bench's database,
for the app with DATABASE_URL through it and DATABASE_POOLED=true, against the app connected directly, same run.

PgBouncer (Debian's `pgbouncer`; bench/run.sh installs it where missing) runs as the `postgres` user (it will
not run as root), on a free port on 127.0.0.1, from a configuration in a temporary directory only that user can
read (it holds the scratch database's password, which PgBouncer needs to log in for its clients), removed at the
end with the process, also when something fails. Its pool is POOL_SIZE server connections, fewer than the app's
threads (2 workers x 4): what a pooler is for.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg2
from tools import Stoppable

POOL_SIZE = 6
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


class PgBouncer(Stoppable):
    """`with PgBouncer(database_url, port) as bouncer`: bouncer.url reaches the same database through it."""

    def __init__(self, database_url: str, port: int):
        parts = urlsplit(database_url)
        self.user, self.password = unquote(parts.username or ""), unquote(parts.password or "")
        self.host, self.db_port, self.database = parts.hostname or "127.0.0.1", parts.port or 5432, parts.path[1:]
        self.port = port
        self.url = f"postgresql://{parts.username}:{parts.password}@127.0.0.1:{port}/{self.database}"
        self.dir = Path(tempfile.mkdtemp(prefix="casting-bench-pgbouncer-"))
        self.process: subprocess.Popen | None = None

    def _start(self) -> None:
        def quoted(value: str) -> str:
            return '"' + value.replace('"', '""') + '"'

        (self.dir / "users.txt").write_text(f"{quoted(self.user)} {quoted(self.password)}\n")
        (self.dir / "pgbouncer.ini").write_text(
            f"[databases]\n{self.database} = host={self.host} port={self.db_port} dbname={self.database}\n\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = md5\nauth_file = {self.dir / 'users.txt'}\n"
            f"pool_mode = transaction\ndefault_pool_size = {POOL_SIZE}\nmax_client_conn = 200\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            f"logfile = {self.dir / 'pgbouncer.log'}\npidfile = {self.dir / 'pgbouncer.pid'}\n")
        for path in self.dir.iterdir():
            os.chmod(path, 0o600)
        shutil.chown(self.dir, "postgres", "postgres")
        for path in self.dir.iterdir():
            shutil.chown(path, "postgres", "postgres")
        self.process = subprocess.Popen(["runuser", "-u", "postgres", "--", PGBOUNCER, str(self.dir / "pgbouncer.ini")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            try:
                psycopg2.connect(self.url, connect_timeout=2).close()
                return
            except psycopg2.OperationalError as exc:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = (self.dir / "pgbouncer.log")
                    raise RuntimeError(f"pgbouncer did not start: {exc}\n"
                                       + (log.read_text()[-2000:] if log.exists() else "")) from None
                time.sleep(0.2)

    def _stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)  # its own session: runuser and pgbouncer
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)


def measure(bench, size: int) -> dict:
    """The list (pages 1..500) and the write mix, through PgBouncer and directly: two servers up at once, each
    scenario on one, the other, the other again and the first again (bench.side_by_side)."""
    from scenarios import LIST_500, WRITES, Server
    from tools import free_port, gunicorn

    by_name = {s.name: s for s in bench.scenarios}
    result: dict = {"size": size, "pool_size": POOL_SIZE, "scenarios": {"direct": {}, "pgbouncer": {}},
                    "failures": []}
    with PgBouncer(bench.database_url, free_port()) as bouncer:
        ports = {"direct": free_port(), "pgbouncer": free_port()}
        envs = {"direct": bench.env(ports["direct"]),
                "pgbouncer": bench.env(ports["pgbouncer"], {"DATABASE_URL": bouncer.url, "DATABASE_POOLED": "true"})}
        with gunicorn(bench.args.app_dir, envs["direct"], ports["direct"]), \
                gunicorn(bench.args.app_dir, envs["pgbouncer"], ports["pgbouncer"]):
            servers = {key: Server(f"http://127.0.0.1:{port}", bench.token, size, bench.workdir)
                       for key, port in ports.items()}
            for name in (LIST_500, WRITES):
                for key, measured in bench.side_by_side(servers, by_name[name]).items():
                    result["scenarios"][key][name] = measured
                    if name == LIST_500 and measured["failed"]:
                        result["failures"].append(f"pgbouncer: {key}: {name}: {measured['failed']} failed")
    result["ratios"] = {name: result["scenarios"]["pgbouncer"][name]["rps"] / result["scenarios"]["direct"][name]["rps"]
                        for name in (LIST_500, WRITES)}
    print("  through PgBouncer vs direct: " + ", ".join(f"{name} {ratio:.2f}x" for name, ratio in
                                                         result["ratios"].items()), flush=True)
    return result
