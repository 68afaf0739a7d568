"""The benchmark's instruments: a stand-in for Auth0, the app under gunicorn, wrk, pgbench and psql, and a
reader of pgbench scripts (the SQL they run, for checking that they do the app's work)."""

from __future__ import annotations

import ast
import http.server
import json
import operator
import os
import re
import signal
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

BENCH = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
AUDIENCE, DOMAIN = "casting-bench", "bench.invalid"
PERMISSIONS = ["get:movies", "get:actors", "post:actors", "patch:actors", "delete:actors",
               "post:movies", "patch:movies", "delete:movies"]


class Stoppable:
    """Something the bench starts that must stop however the run ends (a private cluster, a pgbouncer): `with`
    starts it (`_start`), stopping what did start when that fails, and stops it (`_stop`); while it runs, a
    SIGTERM to the bench (its timeout) exits through the stop too."""

    def __enter__(self):
        self._previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that __exit__ runs
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._stop()
        finally:
            signal.signal(signal.SIGTERM, self._previous)

    def _start(self) -> None:
        raise NotImplementedError

    def _stop(self) -> None:
        raise NotImplementedError


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

    def token(self, subject: str = "auth0|bench") -> str:
        now = int(time.time())
        claims = {"iss": f"https://{DOMAIN}/", "aud": [AUDIENCE, f"https://{DOMAIN}/userinfo"], "sub": subject,
                  "iat": now, "exp": now + 6 * 3600, "permissions": PERMISSIONS}
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "bench"})


def production_env(database_url: str, issuer: Issuer, port: int, redis_url: str | None) -> dict:
    """The app's production configuration. gunicorn's settings (WEB_CONCURRENCY, GUNICORN_THREADS,
    GUNICORN_CMD_ARGS) come from this environment and gunicorn.conf.py, as on a deployment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RATE_LIMIT", "REDIS"))}
    env.update({
        "APP_ENV": "production", "DATABASE_URL": database_url, "AUTH0_DOMAIN": DOMAIN, "API_AUDIENCE": AUDIENCE,
        "JWKS_URL": issuer.url, "TOKEN_ISSUER": f"https://{DOMAIN}/", "PORT": str(port),
        "ALLOW_TEST_ISSUER": "true",  # production mode may trust the stand-in issuer's JWKS_URL
        # The limiter stays on (its cost is part of every request), with budgets wrk cannot exhaust.
        "RATE_LIMIT_READS": "100000000/minute", "RATE_LIMIT_WRITES": "100000000/minute", "LOG_LEVEL": "warning",
    })
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def app_bin(app_dir: Path, name: str) -> str:
    """A tool of the app's own virtualenv when it has one (another commit's worktree), else of this one."""
    own = app_dir / ".venv" / "bin" / name
    return str(own if own.exists() else VENV_BIN / name)


def worker_setup(app_dir: Path, env: dict) -> dict:
    """The worker class and counts gunicorn resolves from gunicorn.conf.py and this environment."""
    output = subprocess.run(
        [app_bin(app_dir, "gunicorn"), "--config", "gunicorn.conf.py", "--print-config", "app:create_app()"],
        cwd=app_dir, env=env, capture_output=True, text=True, timeout=120).stdout
    settings = dict(re.findall(r"^(\w+)\s+= (.*)$", output, re.MULTILINE))
    workers, threads = int(settings["workers"]), int(settings["threads"])
    worker_class = settings["worker_class"].rsplit(".", 1)[-1].removesuffix("Worker").lower()
    if worker_class == "sync" and threads > 1:
        worker_class = "gthread"  # what gunicorn runs for sync with threads
    return {"worker_class": worker_class, "workers": workers, "threads": threads,
            "label": f"{worker_class}, {workers} workers x {threads} threads"}


WORKERS_SETTLE_SECONDS = 1.5


@contextmanager
def gunicorn(app_dir: Path, env: dict, port: int, access_log: Path | None = None):
    """The app under gunicorn until the block ends; its access log (stdout) to `access_log` if given."""
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    out = open(access_log, "wb") if access_log else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [app_bin(app_dir, "gunicorn"), "--config", "gunicorn.conf.py", "app:create_app()"],
        cwd=app_dir, env=env, stdout=out, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
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
        # /ready answered by one worker: the others may still be loading the app, and connections opened
        # now would all go to the first one (the quick gate has no warm-up to spread them).
        time.sleep(WORKERS_SETTLE_SECONDS)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        os.unlink(log.name)
        if access_log:
            out.close()


def workers_peak_rss_mb(master: int) -> list[float]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    peaks = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        peaks.append(int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024)
    return peaks


def wrk(url: str, script: str, duration: int, connections: int, env: dict) -> dict:
    """One wrk run of a script of bench/ (its settings in `env`), read by parse_wrk."""
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "--latency", "-s", str(BENCH / script),
         url], env={**os.environ, **env}, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    return parse_wrk(output)


def parse_wrk(output: str) -> dict:
    """wrk's summary: the rate, p50, p99 and the slowest request (max) in ms, the requests, and `failed`: the
    answers that were not what the scenario expects (a status from 400 up, or, when the script counts them itself as
    revalidate.lua does, any status but the expected one) and the socket errors (timeouts included)."""
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = {p: _ms(v, unit) for p, v, unit in re.findall(r"\s(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\b", output)}
    most = re.search(r"Latency\s+[\d.]+(?:us|ms|s)\s+[\d.]+(?:us|ms|s)\s+([\d.]+)(us|ms|s)", output)
    requests_done = int(re.search(r"(\d+) requests in", output).group(1))
    unexpected = re.search(r"Unexpected statuses: (\d+)", output)
    if unexpected:
        bad_status = int(unexpected.group(1))
    else:
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
        bad_status = int(errors.group(1)) if errors else 0
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_errors = sum(int(n) for n in sockets.groups()) if sockets else 0
    return {"rps": rate, "p50": latency.get("50"), "p99": latency.get("99"),
            "max": _ms(*most.groups()) if most else None, "requests": requests_done,
            "bad_status": bad_status, "socket_errors": socket_errors, "failed": bad_status + socket_errors}


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def pgbench(database_url: str, script: str, duration: int, connections: int, variables: dict) -> float:
    defines = [arg for name, value in variables.items() for arg in ("-D", f"{name}={value}")]
    output = subprocess.run(
        ["pgbench", "-n", "-c", str(connections), "-j", "1", "-T", str(duration), *defines, "-f", str(BENCH / script),
         database_url], capture_output=True, text=True, timeout=duration + 120, check=True).stdout
    return float(re.search(r"tps = ([\d.]+)", output).group(1))


def load(database_url: str, movies: int) -> float:
    """Empties the catalogue and loads `movies` movies (bench/load.sql); returns the seconds it took."""
    started = time.monotonic()
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"movies={movies}", "-f", str(BENCH / "load.sql"),
                    database_url], check=True, timeout=max(300, movies // 1000), capture_output=True)
    return round(time.monotonic() - started, 1)


# --- the SQL of a pgbench script, for checking that it does the app's work --------------------------------

_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Mod: operator.mod,
              ast.Div: lambda a, b: int(a / b), ast.FloorDiv: operator.floordiv, ast.Gt: operator.gt,
              ast.GtE: operator.ge, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Eq: operator.eq,
              ast.NotEq: operator.ne, ast.USub: operator.neg}
_VARIABLE = re.compile(r"(?<!:):([A-Za-z_]\w*)")


def _evaluate(expression: str, variables: dict) -> int:
    """A pgbench expression of integers (+ - * / %, comparisons), its variables given."""
    def value(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.BinOp):
            return _OPERATORS[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.UnaryOp):
            return _OPERATORS[type(node.op)](value(node.operand))
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            return int(_OPERATORS[type(node.ops[0])](value(node.left), value(node.comparators[0])))
        raise ValueError(f"not a pgbench expression this check reads: {expression}")

    text = _VARIABLE.sub(lambda m: str(variables[m.group(1)]), expression)
    return value(ast.parse(text, mode="eval").body)


def script_sql(script: str, variables: dict, fixed: dict) -> str:
    """The SQL a pgbench script runs for `variables` (its -D values), with the variables its \\set
    commands draw at random taken from `fixed` instead, its \\if branches followed."""
    variables, sql, taken = dict(variables), [], [True]
    for line in (BENCH / script).read_text().splitlines():
        command = line.strip()
        if command.startswith("\\if "):
            taken.append(taken[-1] and bool(_evaluate(command[4:], variables)))
        elif command == "\\else":
            taken[-1] = taken[-2] and not taken[-1]
        elif command == "\\endif":
            taken.pop()
        elif not taken[-1]:
            continue
        elif command.startswith("\\set "):
            _, name, expression = command.split(None, 2)
            variables[name] = fixed[name] if "random(" in expression else _evaluate(expression, variables)
        elif not command.startswith("--"):
            sql.append(line)
    return _VARIABLE.sub(lambda m: str(variables[m.group(1)]) if m.group(1) in variables else m.group(0),
                         "\n".join(sql))


def run_sql(database_url: str, sql: str) -> tuple:
    import psycopg2

    connection = psycopg2.connect(database_url)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()
    finally:
        connection.close()
