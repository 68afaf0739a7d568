"""The benchmark: PostgreSQL loaded with N movies, the app under gunicorn in its production
configuration with real RS256 tokens, wrk driving it from a second process on 127.0.0.1, and
two anchors measured in the same run (the app's own /health, and pgbench doing the list's SQL).

    python bench/run.py                      # 1k, 10k, 100k movies; writes bench/results.md and .png
    python bench/run.py --quick              # small and short, for CI: fails on a regression

Needs BENCH_DATABASE_URL (a scratch PostgreSQL database: it is emptied), wrk and pgbench.
Every run is bounded: wrk and pgbench run for --duration seconds per scenario.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = Path(sys.executable).parent
AUDIENCE, DOMAIN = "casting-bench", "bench.invalid"
PERMISSIONS = ["get:movies", "get:actors", "post:actors", "patch:actors", "delete:actors",
               "post:movies", "patch:movies", "delete:movies"]

sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Issuer:
    """A stand-in for Auth0: an RSA key, its JWKS on a local HTTP server, and tokens it signs."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = json.dumps({"keys": [{**jwk, "kid": "bench", "alg": "RS256", "use": "sig"}]}).encode()
        jwks = self.jwks

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(jwks)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/.well-known/jwks.json"

    def token(self) -> str:
        now = int(time.time())
        claims = {"iss": f"https://{DOMAIN}/", "aud": [AUDIENCE, f"https://{DOMAIN}/userinfo"], "sub": "auth0|bench",
                  "iat": now, "exp": now + 3600, "permissions": PERMISSIONS}
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "bench"})


def production_env(database_url: str, issuer: Issuer, port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RATE_LIMIT", "REDIS"))}
    env.update({
        "APP_ENV": "production", "DATABASE_URL": database_url, "AUTH0_DOMAIN": DOMAIN, "API_AUDIENCE": AUDIENCE,
        "JWKS_URL": issuer.url, "TOKEN_ISSUER": f"https://{DOMAIN}/", "PORT": str(port), "WEB_CONCURRENCY": "2",
        "ALLOW_TEST_ISSUER": "true",  # production mode may trust the stand-in issuer's JWKS_URL
        # The limiter stays on (its cost is part of every request), with budgets wrk cannot exhaust.
        "RATE_LIMIT_READS": "100000000/minute", "RATE_LIMIT_WRITES": "100000000/minute", "LOG_LEVEL": "warning",
    })
    return env


@contextmanager
def gunicorn(env: dict, port: int):
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    process = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "--config", "gunicorn.conf.py", "app:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                log.seek(0)
                raise RuntimeError("gunicorn did not start:\n" + log.read()[-3000:])
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        os.unlink(log.name)


def workers_peak_rss_mb(master: int) -> list[float]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    peaks = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        peaks.append(int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024)
    return peaks


def wrk(url: str, script: str, duration: int, connections: int, env: dict) -> dict:
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "--latency", "-s", str(BENCH / script),
         url], env={**os.environ, **env}, capture_output=True, text=True, timeout=duration + 30, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = {p: _ms(v, unit) for p, v, unit in re.findall(r"\s(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)", output)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rps": rate, "p50": latency.get("50"), "p99": latency.get("99"),
            "non_2xx": int(errors.group(1)) if errors else 0}


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def pgbench(database_url: str, pages: int, duration: int, connections: int) -> float:
    output = subprocess.run(
        ["pgbench", "-n", "-c", str(connections), "-j", "1", "-T", str(duration), "-D", f"pages={pages}",
         "-f", str(BENCH / "page.sql"), database_url],
        capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    return float(re.search(r"tps = ([\d.]+)", output).group(1))


def load(database_url: str, movies: int) -> None:
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"movies={movies}", "-f", str(BENCH / "load.sql"),
                    database_url], check=True, timeout=600, capture_output=True)


def statements_per_request(database_url: str, paths: list[str]) -> dict[str, int]:
    """SQL statements each path runs, counted in-process on the same database (not under load)."""
    from sqlalchemy import event

    from app import create_app
    from models import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_ENABLED": False, "AUTH0_DOMAIN": None,
                      "API_AUDIENCE": None, "PRODUCTION": False, "TESTING": True})
    token = app.extensions["local_issuer"].mint("executive-producer")
    client = app.test_client()
    counts = {}
    with app.app_context():
        engine = db.engine
    for path in paths:
        seen = []

        def record(*args, seen=seen):
            seen.append(1)

        event.listen(engine, "before_cursor_execute", record)
        try:
            response = client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, (path, response.json)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        counts[path] = len(seen)
    return counts


# The paths whose SQL statements are counted; bench/statements.json holds the committed counts.
COUNTED_PATHS = [
    "/movies?per_page=1", "/movies?per_page=100", "/movies?per_page=20&page=3", "/actors?per_page=1",
    "/actors?per_page=100", "/movies/1/actors?per_page=100", "/actors/1/movies?per_page=100",
    "/movies?q=night&per_page=20", "/actors?min_age=60&per_page=20", "/movies/1"]
STATEMENTS_BASELINE = BENCH / "statements.json"

SCENARIOS = [
    # name, lua script, environment for it, sizes it runs at (None: all)
    ("GET /health", "list.lua", {"BENCH_PATH": "/health?x=", "BENCH_PAGES": "1"}),
    ("GET /movies pages 1..50", "list.lua", {"BENCH_PATH": "/movies?per_page=20&page=", "BENCH_PAGES": "50"}),
    ("GET /movies pages 1..500", "list.lua", {"BENCH_PATH": "/movies?per_page=20&page=", "BENCH_PAGES": "500"}),
    # A broad search (one movie in ten matches, so the exact total counts a tenth of the table) and a
    # narrow one (a single movie), which the trigram index can find without reading the whole table.
    ("GET /movies?q= (1 in 10)", "list.lua", {"BENCH_PATH": "/movies?q=7%20of&per_page=20&page=", "BENCH_PAGES": "5"}),
    ("GET /movies?q= (1 movie)", "list.lua", {"BENCH_PATH": "/movies?q=Movie%20421%20of&per_page=20&page=",
                                              "BENCH_PAGES": "1"}),
    ("GET /movies/{id}", "list.lua", {"BENCH_PATH": "/movies/{id}"}),
    ("GET /actors?min_age=", "list.lua", {"BENCH_PATH": "/actors?min_age=60&per_page=20&page=", "BENCH_PAGES": "10"}),
    ("write mix", "writes.lua", {}),
]


def run(args) -> int:
    database_url = os.environ.get("BENCH_DATABASE_URL")
    if not database_url:
        print("BENCH_DATABASE_URL must name a scratch PostgreSQL database (it is emptied)", file=sys.stderr)
        return 2
    for tool in ("wrk", "pgbench", "psql"):
        if not shutil.which(tool):
            print(f"{tool} is needed (Debian: apt-get install wrk postgresql-client)", file=sys.stderr)
            return 2
    migrate_env = {**os.environ, "DATABASE_URL": database_url, "APP_ENV": "development"}
    subprocess.run([str(VENV_BIN / "flask"), "--app", "app", "db", "upgrade"], cwd=ROOT, env=migrate_env, check=True,
                   capture_output=True, timeout=120)
    issuer = Issuer()
    token = issuer.token()
    results = []
    for size in args.sizes:
        print(f"== {size} movies", flush=True)
        load(database_url, size)
        ids = {"BENCH_IDS": str(size), "BENCH_TOKEN": token}
        counted = statements_per_request(database_url, COUNTED_PATHS)
        port = free_port()
        with gunicorn(production_env(database_url, issuer, port), port) as server:
            row = {"size": size, "statements": counted}
            for name, script, env in SCENARIOS:
                pages = int(env.get("BENCH_PAGES", "1"))
                if "page=" in env.get("BENCH_PATH", "") and pages * 20 > size:
                    continue  # those pages do not exist at this size
                if name == "write mix" and args.quick:
                    continue
                measured = wrk(f"http://127.0.0.1:{port}", script, args.duration, args.connections, {**env, **ids})
                row[name] = measured
                print(f"  {name:<28} {measured['rps']:>8.0f} req/s  p50 {measured['p50']:.2f} ms  "
                      f"p99 {measured['p99']:.2f} ms  non-2xx {measured['non_2xx']}", flush=True)
            row["rss_mb"] = workers_peak_rss_mb(server.pid)
        for pages in (50, 500):
            if pages * 20 <= size:
                row[f"pgbench pages 1..{pages}"] = pgbench(database_url, pages, args.duration, args.connections)
                print(f"  pgbench pages 1..{pages:<15} {row[f'pgbench pages 1..{pages}']:>8.0f} tps", flush=True)
        results.append(row)
    failures = check(results, quick=args.quick)
    if not args.quick:
        write_report(results, args)
    for failure in failures:
        print("FAIL:", failure)
    print("benchmark:", "FAILED" if failures else "ok")
    return 1 if failures else 0


def check(results: list[dict], quick: bool) -> list[str]:
    """The regression gate: statements per request stay at the committed counts (bench/statements.json)
    and do not grow with the page or the table, every read answers 2xx, and the list keeps at least 10%
    of the /health rate."""
    failures = []
    baseline = json.loads(STATEMENTS_BASELINE.read_text())
    for row in results:
        s = row["statements"]
        pairs = (("/movies?per_page=1", "/movies?per_page=100"), ("/actors?per_page=1", "/actors?per_page=100"))
        for small, large in pairs:
            if s[small] != s[large]:
                failures.append(f"{row['size']}: {small} runs {s[small]} statements, {large} runs {s[large]}")
        for path, count in s.items():
            if count > baseline.get(path, 0):
                failures.append(f"{row['size']}: {path} runs {count} statements, {baseline.get(path)} committed "
                                f"in {STATEMENTS_BASELINE.name}")
        for name, measured in row.items():
            if name.startswith("GET ") and measured["non_2xx"]:
                failures.append(f"{row['size']}: {name} answered {measured['non_2xx']} non-2xx responses")
        ratio = row["GET /movies pages 1..50"]["rps"] / row["GET /health"]["rps"]
        if ratio < 0.10:
            failures.append(f"{row['size']}: the list runs at {ratio:.0%} of /health (floor 10%)")
    first = results[0]["statements"]
    for row in results[1:]:
        if row["statements"] != first:
            failures.append(f"statements per request changed with the table size: {first} vs {row['statements']}")
    return failures


def write_report(results: list[dict], args) -> None:
    from report import write

    write(results, args, BENCH / "results.md", BENCH / "results.png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", help="movie counts, comma-separated")
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario (wrk and pgbench)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections of wrk and pgbench")
    parser.add_argument("--quick", action="store_true", help="1k movies, 3 s per scenario, no report: the CI gate")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.duration = "1000", min(args.duration, 3)
    args.sizes = [int(size) for size in args.sizes.split(",")]
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
