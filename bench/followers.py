"""Issue 24's follower figures: a private PostgreSQL primary and its streaming follower, the app on the primary
alone and on the primary with the follower (DATABASE_FOLLOWER_URLS), side by side.

The bench's own database lives on a shared cluster that nothing here may reconfigure or restart, so this makes a
cluster of its own: `initdb`, then `pg_basebackup -R` for the follower (PostgreSQL 15's binaries, run as the
`postgres` user), on free ports, in a temporary directory, and stops and removes both at the end, also when
something fails. On it: the migrations and a 10k catalogue (bench/load.sql), then two gunicorn servers at once
(the production configuration): one on the primary only, one with the follower, and

- the list (random pages 1..500) on each, in the order A B B A (bench.side_by_side): on a 2-core machine the
  follower shares the cores with the primary, gunicorn and wrk, so this shows what routing costs (a Redis read
  per request for the reader's last write, a follower chosen), not a speed-up;
- the read-heavy mix (bench/reads.lua: nine requests in ten read a list page or a movie as a reader, one in ten
  changes a movie's title as a writer) on each, with the share of reads the follower answered, from the access
  log's `db` field. The writer's own reads would go to the primary until the follower is known to have
  replayed its writes (checked every FOLLOWER_CHECK_SECONDS); the readers, who wrote nothing, may read the
  follower at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import psycopg2
from tools import Stoppable

PG_BIN = Path(os.environ.get("BENCH_PG_BIN", "/usr/lib/postgresql/15/bin"))
FOLLOWER_SIZE = 10_000
ALONE, WITH = "primary only", "primary + follower"  # the two servers


def _as_postgres(*command: str, timeout: float = 120) -> None:
    done = subprocess.run(["runuser", "-u", "postgres", "--", *command], capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)}: exit {done.returncode}: {(done.stderr or done.stdout)[-2000:]}")


class PrivateCluster(Stoppable):
    """A primary on one free port and its streaming follower on another, in a temporary directory of their own;
    `with` stops and removes both (also on failure, and on SIGTERM)."""

    def __init__(self, primary_port: int, follower_port: int):
        self.ports = {"primary": primary_port, "follower": follower_port}
        self.base = Path(tempfile.mkdtemp(prefix="casting-bench-cluster-"))
        self.started: list[str] = []

    def url(self, which: str, database: str = "bench") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.ports[which]}/{database}"

    def _start(self) -> None:
        shutil.chown(self.base, "postgres", "postgres")
        primary, follower = self.base / "primary", self.base / "follower"
        _as_postgres(str(PG_BIN / "initdb"), "-D", str(primary), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                     "--locale=C.UTF-8")
        with open(primary / "postgresql.conf", "a") as conf:
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.ports['primary']}\n"
                       f"unix_socket_directories = '{self.base}'\nwal_level = replica\nmax_wal_senders = 4\n"
                       "hot_standby = on\nshared_buffers = 128MB\n")
        with open(primary / "pg_hba.conf", "a") as hba:  # trust: a private cluster on loopback, gone at the end
            hba.write("host all postgres 127.0.0.1/32 trust\nhost replication postgres 127.0.0.1/32 trust\n")
        self._pg_ctl("primary", "start")
        _as_postgres(str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.ports["primary"]), "-U",
                     "postgres", "-D", str(follower), "-R", "-X", "stream", timeout=300)
        with open(follower / "postgresql.auto.conf", "a") as conf:
            conf.write(f"port = {self.ports['follower']}\n")
        self._pg_ctl("follower", "start")
        self.sql("primary", "CREATE DATABASE bench", database="postgres")

    def _pg_ctl(self, which: str, action: str) -> None:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.base / which), "-l", str(self.base / f"{which}.log"),
                     "-w", "-t", "60", *(("-m", "fast") if action == "stop" else ()), action)
        if action == "start":
            self.started.append(which)

    def sql(self, which: str, statement: str, database: str = "bench"):
        connection = psycopg2.connect(self.url(which, database))
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(statement)
                return cursor.fetchone() if cursor.description else None
        finally:
            connection.close()

    def caught_up(self, seconds: float = 60) -> None:
        """The follower has replayed everything the primary has written so far."""
        target = self.sql("primary", "SELECT pg_current_wal_lsn()::text")[0]
        deadline = time.monotonic() + seconds
        while self.sql("follower", f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")[0] is not True:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the follower did not replay up to {target} in {seconds} s")
            time.sleep(0.2)

    def _stop(self) -> None:
        for which in reversed(self.started):
            with contextlib.suppress(Exception):
                self._pg_ctl(which, "stop")
        self.started.clear()
        shutil.rmtree(self.base, ignore_errors=True)


def read_shares(log: Path, offset: int = 0) -> dict:
    """From an access log (one JSON line per request), past `offset` bytes: the reads (GET) by the database that
    answered them."""
    by_source: Counter = Counter()
    methods: Counter = Counter()
    with open(log, "rb") as file:
        file.seek(offset)
        text = file.read().decode(errors="replace")
    for line in text.splitlines():
        try:
            fields = json.loads(line)
        except ValueError:
            continue
        if not isinstance(fields, dict) or "method" not in fields:
            continue
        methods[f"{fields['method']} {fields.get('status')}"] += 1
        if fields["method"] == "GET" and fields.get("db"):
            by_source["follower" if fields["db"].startswith("follower") else fields["db"]] += 1
    reads = sum(by_source.values())
    return {"reads": reads, "by_source": dict(by_source), "requests": dict(methods),
            "follower_share": by_source["follower"] / reads if reads else None}


def measure(bench, flask: str, app_dir: Path, load) -> dict:
    """The list and the read-heavy mix on the primary alone and on the primary with its follower (module doc)."""
    from scenarios import LIST_500, READ_MIX, Scenario, Server
    from tools import free_port, gunicorn

    reader, writer = bench.issuer.token("auth0|bench-reader"), bench.issuer.token("auth0|bench-writer")
    result: dict = {"size": FOLLOWER_SIZE, "scenarios": {ALONE: {}, WITH: {}}, "failures": []}
    with PrivateCluster(free_port(), free_port()) as cluster:
        primary, follower = cluster.url("primary"), cluster.url("follower")
        migrated = subprocess.run([flask, "--app", "app", "db", "upgrade"], cwd=app_dir, capture_output=True, text=True,
                                  env={**os.environ, "DATABASE_URL": primary, "APP_ENV": "development"}, timeout=300)
        if migrated.returncode:
            raise RuntimeError("the migrations failed on the private primary: " + migrated.stderr[-2000:])
        result["load_seconds"] = load(primary, FOLLOWER_SIZE)
        cluster.caught_up()
        ports = {ALONE: free_port(), WITH: free_port()}
        envs = {ALONE: bench.env(ports[ALONE], {"DATABASE_URL": primary}),
                WITH: bench.env(ports[WITH], {"DATABASE_URL": primary, "DATABASE_FOLLOWER_URLS": follower})}
        log = bench.workdir / "follower-access.log"
        scenarios = [Scenario(LIST_500, "list.lua", lambda server: {"BENCH_PATH": "/movies?per_page=20&page=",
                                                                   "BENCH_PAGES": "500"}),
                     Scenario(READ_MIX, "reads.lua", lambda server: {"BENCH_READER_TOKEN": reader,
                                                                    "BENCH_IDS": str(FOLLOWER_SIZE),
                                                                    "BENCH_PAGES": "500"})]
        with gunicorn(app_dir, envs[ALONE], ports[ALONE]), gunicorn(app_dir, envs[WITH], ports[WITH], access_log=log):
            servers = {key: Server(f"http://127.0.0.1:{port}", reader, FOLLOWER_SIZE, bench.workdir)
                       for key, port in ports.items()}
            for scenario in scenarios:
                offset = log.stat().st_size
                token = writer if scenario.name == READ_MIX else reader
                for key, measured in bench.side_by_side(servers, scenario, token).items():
                    result["scenarios"][key][scenario.name] = measured
                    if scenario.name == LIST_500 and measured["failed"]:
                        result["failures"].append(f"follower: {key}: {LIST_500}: {measured['failed']} failed")
                result["scenarios"][WITH][scenario.name]["reads"] = read_shares(log, offset)
    mix = result["scenarios"][WITH][READ_MIX]["reads"]
    result["follower_share"] = mix["follower_share"]
    result["list_ratio"] = result["scenarios"][WITH][LIST_500]["rps"] / result["scenarios"][ALONE][LIST_500]["rps"]
    result["mix_ratio"] = result["scenarios"][WITH][READ_MIX]["rps"] / result["scenarios"][ALONE][READ_MIX]["rps"]
    print(f"  follower: {mix['follower_share'] or 0:.0%} of the mix's {mix['reads']:,} reads ({mix['requests']}); "
          f"the list with the "
          f"follower at {result['list_ratio']:.2f}x the primary alone", flush=True)
    return result
