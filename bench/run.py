"""The benchmark: PostgreSQL loaded with N movies, the app under gunicorn in its production configuration
(RS256 tokens checked against a JWKS, the rate limiter on, with Redis when BENCH_REDIS_URL names one, the
access log written), wrk driving it from a second process on 127.0.0.1, and the anchors measured in the
same run: the app's own /health, and pgbench doing the list's work (and the broad search's count) in SQL.

    python bench/run.py                        # 1k, 10k, 100k, 1M movies: bench/results.md, .png, .json
    python bench/run.py --sizes 10000 --only "write mix"     # chosen scenarios only, no report
    python bench/run.py --quick                # small and short, for CI: fails on a regression

Needs BENCH_DATABASE_URL (a scratch PostgreSQL database: it is emptied), wrk, pgbench and psql
(bench/run.sh provides them). Every step is bounded in time. bench/README.md says what each scenario
measures and how to compare two commits.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import followers
import pooler
import requests
import transfers
from scenarios import (
    BROAD,
    COUNTED_ANCHORED,
    COUNTED_CURSOR,
    COUNTED_PATHS,
    COUNTED_REVALIDATE_LIST,
    COUNTED_REVALIDATE_RECORD,
    EXPORT,
    FOLLOWERS,
    HEALTH,
    IMPORT_ACTORS,
    IMPORTS,
    LIST_500,
    PER_PAGE,
    PG_ANY_PAGE,
    PG_LIST_50,
    PG_LIST_500,
    PG_LIST_500_BEFORE,
    PG_SEARCH,
    PG_WRITES,
    PLAN_SIZE,
    PLANS,
    POOLER,
    QUICK_IMPORT_ACTORS,
    RATIOS,
    REPEAT_SIZE,
    SEARCH_COUNT_FROM,
    SEARCH_INDEXES,
    SEARCHES,
    SETUP_SIZE,
    STATEMENTS,
    SYNC_WORKERS,
    TAIL_TARGET,
    TARGETS_23,
    TARGETS_24,
    WORKER_SETUP,
    WRITES,
    Scenario,
    Server,
    scenarios,
    search_total,
    selects,
    steps,
)
from tools import (
    BENCH,
    Issuer,
    app_bin,
    free_port,
    gunicorn,
    load,
    pgbench,
    production_env,
    run_sql,
    script_sql,
    worker_setup,
    workers_peak_rss_mb,
    wrk,
)

ROOT = BENCH.parent
DEFAULT_SIZES = "1000,10000,100000,1000000"

STATEMENTS_BASELINE = BENCH / "statements.json"


def check_page_sql(database_url: str, get: Callable[[str], requests.Response], pages: int, size: int) -> list[str]:
    """bench/page.sql answers, for a few pages of 1..`pages`, the body the app answers (the same page, casts
    and total; the app adds the page's number and its cursors in Python)."""
    problems = []
    for page in sorted({1, 3, pages // 2 + 1, pages}):
        app = get(f"/movies?per_page={PER_PAGE}&page={page}").json()
        for key in ("page", "per_page", "next_cursor", "prev_cursor"):
            app.pop(key)
        body = run_sql(database_url, script_sql("page.sql", {"pages": pages}, {"page": page}))[0]
        if json.loads(body) != app:
            problems.append(f"{size}: bench/page.sql does not answer what GET /movies answers for page {page}")
    return problems


def check_search_totals(database_url: str, get: Callable[[str], requests.Response], size: int,
                        names: list[str]) -> list[str]:
    """Each search answers its exact total (scenarios.SEARCH_TOTALS)."""
    problems = []
    for name in names:
        total, expected = get(SEARCHES[name] + "1").json()["total"], search_total(name, size, database_url)
        if total != expected:
            problems.append(f"{size}: {name} answers a total of {total}, not {expected}")
    return problems


def search_plans(database_url: str) -> dict[str, list[dict]]:
    """The plans (EXPLAIN (FORMAT JSON)) of the statements each gated search runs: its first request and a
    second one (the first fills the per-process memo of its total), captured in-process with their bound values."""
    from sqlalchemy import event

    from app import create_app
    from models import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_ENABLED": False, "AUTH0_DOMAIN": None,
                      "API_AUDIENCE": None, "PRODUCTION": False, "TESTING": True})
    auth = {"Authorization": "Bearer " + app.extensions["local_issuer"].mint("executive-producer")}
    client = app.test_client()
    with app.app_context():
        engine = db.engine
    plans = {}
    for name in SEARCH_INDEXES:
        seen: list[tuple] = []

        def record(conn, cursor, statement, parameters, context, executemany, seen=seen):
            seen.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", record)
        try:
            for _ in range(2):
                assert client.get(SEARCHES[name] + "1", headers=auth).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", record)
        with engine.connect() as connection:
            plans[name] = [connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()[0]
                           for statement, parameters in seen
                           if statement.lstrip().upper().startswith(("SELECT", "WITH"))]
    engine.dispose()
    return plans


def plan_nodes(plan: dict) -> list[dict]:
    """Every node of an EXPLAIN (FORMAT JSON) plan, its subplans' included."""
    nodes, stack = [], [plan["Plan"]]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack += node.get("Plans", [])
    return nodes


def check_search_plans(database_url: str, size: int) -> list[str]:
    """The CI gate's plan check: each gated search reads its trigram index and never the whole of movies,
    actors or movie_actors (a Seq Scan), at a size where the planner would otherwise read the table."""
    problems = []
    for name, plans in search_plans(database_url).items():
        nodes = [node for plan in plans for node in plan_nodes(plan)]
        scanned = sorted({node["Relation Name"] for node in nodes if node["Node Type"] == "Seq Scan"
                          and node.get("Relation Name") in ("movies", "actors", "movie_actors")})
        if scanned:
            problems.append(f"{size}: {name} reads the whole of {', '.join(scanned)} (Seq Scan)")
        if not any(node.get("Index Name") == SEARCH_INDEXES[name] for node in nodes):
            problems.append(f"{size}: {name} does not use {SEARCH_INDEXES[name]}")
    return problems


def check_search_sql(database_url: str, get: Callable[[str], requests.Response], size: int) -> list[str]:
    total = get(SEARCHES[BROAD] + "1").json()["total"]
    counted = run_sql(database_url, script_sql("search_count.sql", {}, {}))[0]
    if counted != total:
        return [f"{size}: bench/search_count.sql counts {counted}, the app's broad search a total of {total}"]
    return []



def statements_per_request(database_url: str, size: int) -> dict[str, int]:
    """SQL statements each counted path runs, counted in-process on the same database (not under load)."""
    from sqlalchemy import event

    from app import create_app
    from models import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_ENABLED": False, "AUTH0_DOMAIN": None,
                      "API_AUDIENCE": None, "PRODUCTION": False, "TESTING": True})
    auth = {"Authorization": "Bearer " + app.extensions["local_issuer"].mint("executive-producer")}
    client = app.test_client()
    with app.app_context():
        engine = db.engine

    def count(path: str, headers: dict | None = None, status: int = 200) -> int:
        seen = []

        def record(*args):
            seen.append(1)

        for _ in range(2):
            seen.clear()
            event.listen(engine, "before_cursor_execute", record)
            try:
                response = client.get(path, headers={**auth, **(headers or {})})
                assert response.status_code == status, (path, response.status_code, response.get_data(as_text=True))
            finally:
                event.remove(engine, "before_cursor_execute", record)
        return len(seen)

    counts = {path: count(path) for path in COUNTED_PATHS}
    cursor = client.get("/movies?per_page=20&page=2", headers=auth).json["next_cursor"]
    counts[COUNTED_CURSOR] = count(f"/movies?per_page=20&cursor={cursor}")
    if size >= 150 * PER_PAGE:
        counts[COUNTED_ANCHORED] = count("/movies?per_page=20&page=150")
    for label, path in ((COUNTED_REVALIDATE_LIST, "/movies?per_page=20&page=1"),
                        (COUNTED_REVALIDATE_RECORD, "/movies/1")):
        etag = client.get(path, headers=auth).headers["ETag"]
        counts[label] = count(path, {"If-None-Match": etag}, 304)
    return counts



class Bench:
    def __init__(self, args, database_url: str):
        self.args = args
        self.database_url = database_url
        self.issuer = Issuer()
        self.token = self.issuer.token()
        self.workdir = Path(tempfile.mkdtemp(prefix="casting-bench-"))
        self.scenarios = scenarios(args.pool)

    def wanted(self, name: str) -> bool:
        return not self.args.only or any(selects(only, name) for only in self.args.only)

    def env(self, port: int, extra: dict | None = None) -> dict:
        return {**production_env(self.database_url, self.issuer, port, self.args.redis_url), **(extra or {})}

    def measure(self, server: Server, scenario: Scenario, env: dict, token: str | None = None,
                warmup: bool = True) -> dict:
        wrk_env = {**env, "BENCH_TOKEN": token or self.token}
        if self.args.warmup and warmup:
            wrk(server.url, scenario.script, self.args.warmup, self.args.connections, wrk_env)
        measured = wrk(server.url, scenario.script, self.args.duration, self.args.connections, wrk_env)
        print(f"  {scenario.name:<42} {measured['rps']:>8.0f} req/s  p50 {measured['p50']:7.2f} ms  "
              f"p99 {measured['p99']:7.2f} ms  max {measured['max']:7.2f} ms  failed {measured['failed']}", flush=True)
        return measured

    def side_by_side(self, servers: dict[str, Server], scenario: Scenario, token: str | None = None) -> dict:
        """`scenario` on two servers in turn, in the order A B B A, so that a machine growing busier or quieter
        weighs on both alike: for each, the mean of its two runs (and the runs)."""
        runs: dict[str, list[dict]] = {key: [] for key in servers}
        for key in [*servers, *reversed(servers)]:
            print(f"  [{key}]", end="", flush=True)
            runs[key].append(self.measure(servers[key], scenario, scenario.env(servers[key]), token))
        return {key: {**{field: statistics.mean(run[field] for run in measured) for field in ("rps", "p50", "p99")},
                      **{field: sum(run[field] for run in measured) for field in
                         ("requests", "bad_status", "socket_errors", "failed")}, "runs": measured}
                for key, measured in runs.items()}

    def pgbench(self, name: str, script: str, variables: dict) -> float:
        tps = pgbench(self.database_url, script, self.args.duration, self.args.connections, variables)
        print(f"  {name:<42} {tps:>8.0f} tps", flush=True)
        return tps

    def run_size(self, size: int) -> dict:
        args = self.args
        print(f"== {size:,} movies", flush=True)
        row = {"size": size, "scenarios": {}, "pgbench": {}, "failures": []}
        row["load_seconds"] = load(self.database_url, size)
        print(f"  loaded in {row['load_seconds']} s", flush=True)
        if self.wanted(STATEMENTS):
            row["statements"] = statements_per_request(self.database_url, size)
        if size == SETUP_SIZE and self.wanted(WORKER_SETUP) and not args.quick:
            row["setups"] = self.worker_setups(size)
        by_name = {s.name: s for s in self.scenarios}
        reads = [s for s in self.scenarios if s.name != WRITES and s.runs_at(size) and self.wanted(s.name)]
        last = size == self.args.sizes[-1]
        if not reads and not any(self.wanted(name) for name in (WRITES, PG_LIST_50, PG_LIST_500, PG_ANY_PAGE,
                                                                 PG_SEARCH, EXPORT)):
            row["rss_mb"] = []
            self.after(row, size)
            return row  # nothing chosen needs the server
        port = free_port()
        env = self.env(port)
        row["setup"] = worker_setup(args.app_dir, env)
        with gunicorn(args.app_dir, env, port) as process:
            server = Server(f"http://127.0.0.1:{port}", self.token, size, self.workdir, self.database_url)
            envs = {}
            for scenario in reads:
                envs[scenario.name] = scenario.env(server)
                if scenario.fresh and not args.quick:
                    row["scenarios"][scenario.name] = self.measure_fresh(scenario, envs[scenario.name], size)
                elif scenario.name == LIST_500 and size == REPEAT_SIZE and self.wanted(PG_LIST_500):
                    self.list_pairs(server, row, scenario, envs[scenario.name])
                else:
                    row["scenarios"][scenario.name] = self.measure(server, scenario, envs[scenario.name])
            row["failures"] += check_search_totals(self.database_url, server.get, size,
                                                   [s.name for s in reads if s.name in SEARCHES])
            if size >= PLAN_SIZE and self.wanted(PLANS):
                row["failures"] += check_search_plans(self.database_url, size)
            self.pgbench_steps(server, row)
            if last and self.wanted(EXPORT):  # issue 23: the whole catalogue, at the largest size
                row["export"] = transfers.run_export(self.database_url, server.url, self.token, process.pid, size,
                                                     rounds=1 if args.quick else 2)
            if by_name[WRITES].runs_at(size) and self.wanted(WRITES) and not args.quick:
                row["scenarios"][WRITES] = self.measure(server, by_name[WRITES], by_name[WRITES].env(server))
            if by_name[WRITES].runs_at(size) and self.wanted(PG_WRITES) and not args.quick:
                # The same writes in SQL, after the app's (the catalogue is reloaded for the next size).
                row["pgbench"][PG_WRITES] = self.pgbench(PG_WRITES, "writes.sql", {"movies": size})
            row["rss_mb"] = workers_peak_rss_mb(process.pid)
        self.after(row, size)
        return row

    def measure_fresh(self, scenario: Scenario, env: dict, size: int) -> dict:
        """`scenario` on a server just started, with no warm-up: each process's first requests (a cold memo,
        a token not yet verified, statements not yet built) are in its latencies, and in its `max`."""
        port = free_port()
        with gunicorn(self.args.app_dir, self.env(port), port):
            server = Server(f"http://127.0.0.1:{port}", self.token, size, self.workdir, self.database_url)
            return self.measure(server, scenario, env, warmup=False)

    def after(self, row: dict, size: int) -> None:
        """After the size's other steps, each on servers of its own: issue 24's PgBouncer against direct
        connections (at SETUP_SIZE), then issue 23's import (at the largest size), which empties the catalogue."""
        if size == SETUP_SIZE and self.wanted(POOLER) and not self.args.quick:
            row["pgbouncer"] = attempt(POOLER, lambda: pooler.measure(self, size))
        if size == self.args.sizes[-1] and self.wanted(IMPORTS):
            row["imports"] = attempt(IMPORTS, self.imports)

    def imports(self) -> dict:
        """COPY, POST /imports and flask import (not in the quick gate: a process start or two) of the same rows."""
        port = free_port()
        env = self.env(port)
        cli = None if self.args.quick else (app_bin(self.args.app_dir, "flask"), self.args.app_dir, env)
        with gunicorn(self.args.app_dir, env, port):
            return transfers.run_imports(self.database_url, self.args.import_actors, self.workdir,
                                         f"http://127.0.0.1:{port}", self.token, cli)

    def list_pairs(self, server: Server, row: dict, scenario: Scenario, env: dict) -> None:
        """The list (pages 1..500) and pgbench doing its work in SQL, side by side --repeat times: the target
        is the median of their ratios; the table shows the pair with that median."""
        row["failures"] += check_page_sql(self.database_url, server.get, 500, server.size)
        pairs = []
        for _ in range(self.args.repeat):
            app = self.measure(server, scenario, env)
            tps = self.pgbench(PG_LIST_500, "page.sql", {"pages": 500})
            before = self.pgbench(PG_LIST_500_BEFORE, "page_offset_count.sql", {"pages": 500})
            pairs.append({"app": app, "pgbench": tps, "ratio": app["rps"] / tps, "pgbench_before": before,
                          "ratio_before": app["rps"] / before})
        median = statistics.median_low(pair["ratio"] for pair in pairs)
        chosen = next(pair for pair in pairs if pair["ratio"] == median)
        row["scenarios"][LIST_500], row["pgbench"][PG_LIST_500] = chosen["app"], chosen["pgbench"]
        row["pgbench"][PG_LIST_500_BEFORE] = chosen["pgbench_before"]
        row["pairs"] = pairs

    def pgbench_steps(self, server: Server, row: dict) -> None:
        size = server.size
        lists = [(PG_LIST_50, 50)]
        if size >= 500 * PER_PAGE and PG_LIST_500 not in row["pgbench"]:
            lists.append((PG_LIST_500, 500))
        if size // PER_PAGE > 500:
            lists.append((PG_ANY_PAGE, size // PER_PAGE))
        for name, pages in lists:
            if self.wanted(name):
                problems = check_page_sql(self.database_url, server.get, pages, size)
                row["failures"] += problems
                if not problems:
                    row["pgbench"][name] = self.pgbench(name, "page.sql", {"pages": pages})
        if size >= SEARCH_COUNT_FROM and self.wanted(PG_SEARCH):
            problems = check_search_sql(self.database_url, server.get, size)
            row["failures"] += problems
            if not problems:
                row["pgbench"][PG_SEARCH] = self.pgbench(PG_SEARCH, "search_count.sql", {})

    def worker_setups(self, size: int) -> dict:
        """/health and the list (pages 1..500) under the configured workers and under sync workers, one server
        after the other on the same data."""
        by_name = {s.name: s for s in self.scenarios}
        setups = {}
        for key, extra in (("default", {}), ("sync", {"GUNICORN_CMD_ARGS": SYNC_WORKERS})):
            port = free_port()
            env = self.env(port, extra)
            setup = worker_setup(self.args.app_dir, env)
            print(f"  worker setup {key}: {setup['label']}", flush=True)
            setup.update(scenarios={}, pgbench={})
            with gunicorn(self.args.app_dir, env, port) as process:
                server = Server(f"http://127.0.0.1:{port}", self.token, size, self.workdir)
                for name in (HEALTH, LIST_500):
                    setup["scenarios"][name] = self.measure(server, by_name[name], by_name[name].env(server))
                setup["rss_mb"] = workers_peak_rss_mb(process.pid)
            setups[key] = setup
        return setups


def attempt(name: str, measure: Callable[[], dict]) -> dict:
    """A step with machinery of its own (PgBouncer, a private cluster, servers of its own): when it cannot run,
    the run fails saying why, and the other figures are kept."""
    try:
        return measure()
    except Exception as exc:  # noqa: BLE001 - any failure of the scenario is reported, not raised
        print(f"  {name}: {exc}", flush=True)
        return {"failures": [f"{name}: {exc}"]}


def check(results: dict) -> list[str]:
    """The regression gate: statements per request stay at the committed counts (bench/statements.json), do
    not grow with the page or the table, every read answers what it should (2xx, or 304 to a revalidation),
    page.sql and search_count.sql answer what the app answers. Timings never fail it (ratios())."""
    failures = []
    baseline = json.loads(STATEMENTS_BASELINE.read_text())
    rows = results["rows"]
    for row in rows:
        failures += row["failures"]
        s = row.get("statements")
        if s:
            for small, large in (("/movies?per_page=1", "/movies?per_page=100"),
                                 ("/actors?per_page=1", "/actors?per_page=100")):
                if s[small] != s[large]:
                    failures.append(f"{row['size']}: {small} runs {s[small]} statements, {large} runs {s[large]}")
            for path, count in s.items():
                if count != baseline.get(path):
                    failures.append(f"{row['size']}: {path} runs {count} statements, {baseline.get(path)} committed in "
                                    f"bench/{STATEMENTS_BASELINE.name} (update it when the change is meant)")
        for name, measured in row["scenarios"].items():
            if name != WRITES and measured["failed"]:
                failures.append(f"{row['size']}: {name}: {measured['bad_status']} unexpected statuses, "
                                f"{measured['socket_errors']} socket errors")
    for part in [row.get(key) for row in rows for key in ("export", "imports", "pgbouncer")] + [
            results.get("followers")]:
        failures += (part or {}).get("failures", [])
    failures += results.get("plans", {}).get("failures", [])
    counted = [row for row in rows if row.get("statements")]
    for row in counted[1:]:
        first = counted[0]["statements"]
        changed = {path for path in first.keys() & row["statements"].keys() if first[path] != row["statements"][path]}
        if changed:
            failures.append(f"statements per request changed with the table size ({counted[0]['size']} vs "
                            f"{row['size']}): {sorted(changed)}")
    return failures


def ratios(results: dict) -> list[str]:
    """Each ratio of RATIOS at each size, with its target: printed, never a failure."""
    lines = []
    for row in results["rows"]:
        measured = row["scenarios"]
        for numerator, denominator, target in RATIOS:
            if numerator in measured and denominator in measured and measured[denominator]["rps"]:
                ratio = measured[numerator]["rps"] / measured[denominator]["rps"]
                lines.append(f"ratio at {row['size']:,}: {numerator} / {denominator} = {ratio:.2f} "
                             f"(target {target:.2f}; printed, not gated)")
        found = [(f"import {row.get('imports', {}).get('actors', 0):,} actors + castings: POST /imports / COPY",
                  row.get("imports", {}).get("http_vs_copy"), TARGETS_23["http_vs_copy"]),
                 ("import: flask import / COPY", row.get("imports", {}).get("cli_vs_copy"), TARGETS_23["cli_vs_copy"]),
                 (f"export {row['size']:,} movies: GET /movies/export / COPY TO", row.get("export", {}).get("ratio"),
                  TARGETS_23["export_vs_copy"])]
        found += [(f"{name} through PgBouncer / direct", ratio, TARGETS_24["pgbouncer_vs_direct"])
                  for name, ratio in row.get("pgbouncer", {}).get("ratios", {}).items()]
        lines += [f"ratio: {label} = {ratio:.2f} (target {target:.2f}; printed, not gated)"
                  for label, ratio, target in found if ratio is not None]
        if "export" in row:
            lines.append(f"export: the worker's RSS grew {row['export']['rss_growth_mb']:.1f} MB (target at most "
                         f"{TARGETS_23['export_rss_growth_mb']} MB; printed, not gated)")
        for name in SEARCHES:
            m = measured.get(name)
            if m and m["p50"]:
                lines.append(f"tail at {row['size']:,}: {name}: p99 / p50 = {m['p99'] / m['p50']:.1f}, max / p50 = "
                             f"{m['max'] / m['p50']:.1f} (target p99 at most {TAIL_TARGET:.0f}x p50; not gated)")
    if "follower_share" in results.get("followers", {}):
        share = results["followers"]["follower_share"] or 0
        lines.append(f"follower: {share:.0%} of the read mix's reads; the list with a follower / primary only = "
                     f"{results['followers']['list_ratio']:.2f} (printed, no target)")
    return lines


def describe(args, database_url: str) -> dict:
    """What the run ran on, for the report."""
    version = run_sql(database_url, "SHOW server_version")[0]
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=args.app_dir, capture_output=True,
                            text=True).stdout.strip()
    return {"date": dt.date.today().isoformat(), "cores": os.cpu_count(), "python": platform.python_version(),
            "postgresql": version, "commit": commit, "duration": args.duration, "connections": args.connections,
            "warmup": args.warmup, "repeat": args.repeat, "pool": args.pool, "redis": bool(args.redis_url),
            "sizes": args.sizes, "only": args.only}


def run(args) -> int:
    database_url = os.environ.get("BENCH_DATABASE_URL")
    if not database_url:
        print("BENCH_DATABASE_URL must name a scratch PostgreSQL database (it is emptied)", file=sys.stderr)
        return 2
    for tool in ("wrk", "pgbench", "psql"):
        if not shutil.which(tool):
            print(f"{tool} is needed (Debian: apt-get install wrk postgresql-client)", file=sys.stderr)
            return 2
    started = time.monotonic()
    migrated = subprocess.run([app_bin(args.app_dir, "flask"), "--app", "app", "db", "upgrade"], cwd=args.app_dir,
                              env={**os.environ, "DATABASE_URL": database_url, "APP_ENV": "development"},
                              capture_output=True, text=True,
                              timeout=300)
    if migrated.returncode:
        print(migrated.stderr[-3000:], file=sys.stderr)
        print("the migrations failed: give each commit a database of its own (bench/README.md)", file=sys.stderr)
        return 2
    if not args.redis_url:
        print("no BENCH_REDIS_URL: the rate limiter counts in each process's memory", flush=True)
    bench = Bench(args, database_url)
    results = {"meta": describe(args, database_url), "rows": []}
    try:
        for size in args.sizes:
            results["rows"].append(bench.run_size(size))
        if args.quick and bench.wanted(PLANS) and max(args.sizes) < PLAN_SIZE:
            # The gate's sizes are too small for the planner to choose an index: the plans at PLAN_SIZE.
            print(f"== {PLAN_SIZE:,} movies: the searches' query plans", flush=True)
            load(database_url, PLAN_SIZE)
            results["plans"] = {"size": PLAN_SIZE, "failures": check_search_plans(database_url, PLAN_SIZE)}
        if bench.wanted(FOLLOWERS) and not args.quick:  # issue 24, on a private cluster of its own
            print(f"== a private primary and follower, {followers.FOLLOWER_SIZE:,} movies", flush=True)
            results["followers"] = attempt(FOLLOWERS, lambda: followers.measure(bench, app_bin(args.app_dir, "flask"),
                                                                                args.app_dir, load))
    finally:
        shutil.rmtree(bench.workdir, ignore_errors=True)
    results["meta"]["seconds"] = round(time.monotonic() - started)
    failures = check(results)
    results["failures"] = failures
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    if args.report:
        from report import write

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
        write(results, out / "results.md", out / "results.png")
        print(f"wrote {out / 'results.md'} and {out / 'results.png'}")
    for line in ratios(results):
        print(line)
    for failure in failures:
        print("FAIL:", failure)
    print(f"benchmark: {'FAILED' if failures else 'ok'} in {results['meta']['seconds']} s")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"movie counts, comma-separated ({DEFAULT_SIZES})")
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario, wrk and pgbench (10)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of unmeasured load before each scenario (1)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections of wrk and pgbench (8)")
    parser.add_argument("--repeat", type=int, default=3,
                        help=f"runs of the list-vs-pgbench pair at {REPEAT_SIZE:,} movies; the median counts (3)")
    parser.add_argument("--pool", type=int, default=300, help="cursors gathered for the cursor walk (300)")
    parser.add_argument("--import-actors", type=int, default=IMPORT_ACTORS,
                        help=f"actors imported, with three castings each ({IMPORT_ACTORS:,}; --quick: "
                             f"{QUICK_IMPORT_ACTORS})")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only the scenario or step of that name, or else those whose name contains NAME "
                             "(case-insensitive; repeatable): e.g. 'write mix', 'If-None-Match', 'pgbench', "
                             f"'{STATEMENTS}', '{WORKER_SETUP}' (--list names them all). No report is written")
    parser.add_argument("--list", action="store_true", help="print the names of the scenarios and steps, and exit")
    parser.add_argument("--app-dir", type=Path, default=ROOT,
                        help="the checkout whose app is measured (another commit's worktree; its .venv if it has one)")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL"),
                        help="Redis for the rate limiter (BENCH_REDIS_URL; bench/run.sh sets one)")
    parser.add_argument("--out", default=str(BENCH), help="where results.md, .png and .json go (bench/)")
    parser.add_argument("--json", help="also write the raw figures to this file")
    parser.add_argument("--no-report", dest="report", action="store_false", help="write no report")
    parser.add_argument("--quick", action="store_true",
                        help="the CI gate: 1k movies, 3 s per scenario, no write mix, no report")
    args = parser.parse_args()
    if args.list:
        print("\n".join(steps()))
        return 0
    if args.quick:
        args.sizes, args.duration = "1000", min(args.duration, 3)
        args.warmup, args.repeat, args.pool, args.report = 0, 1, min(args.pool, 50), False
        args.import_actors = min(args.import_actors, QUICK_IMPORT_ACTORS)
    if args.only:
        args.report = False
    args.sizes = [int(size) for size in args.sizes.split(",")]
    args.app_dir = args.app_dir.resolve()
    sys.path.insert(0, str(args.app_dir))
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
