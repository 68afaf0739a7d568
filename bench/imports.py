"""Imports and exports on PostgreSQL (docs/import-export.md#how-fast): an HTTP import of N actors through gunicorn,
against PostgreSQL's own COPY of the same rows, in alternating rounds (each round's ratio is of figures taken
moments apart, on a machine that may be busy); the same file again (every row unchanged); a file changing a
third of them; and the actors' export in CSV and NDJSON.

It EMPTIES the catalogue, the history and the idempotency keys of the database it is given: give it a scratch
one (bash .ci/postgres.sh makes one), migrated (flask db upgrade):

    set -a; . .ci/postgres.env; set +a
    BENCH_DATABASE_URL=$TEST_DATABASE_URL .venv/bin/python bench/imports.py [--rows 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from casting.tokens.local_issuer import LOCAL_AUDIENCE, LocalIssuer  # noqa: E402
from tests.utils.environment import GUNICORN  # noqa: E402
from tests.utils.processes import free_port, server_env  # noqa: E402
from tests.utils.tokens import new_rsa_key, pem  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    url, rows = os.environ["BENCH_DATABASE_URL"], args.rows
    key = pem(new_rsa_key())
    headers = {"Authorization": "Bearer " + LocalIssuer.from_pem(key, LOCAL_AUDIENCE).mint("executive-producer")}
    csv_type = {**headers, "Content-Type": "text/csv"}
    genders = ("female", "male", "non-binary")
    body = ("name,age,gender\r\n" + "".join(
        f"Actor {i:06d} Smith,{20 + i % 60},{genders[i % 3]}\r\n" for i in range(rows))).encode()
    database = psycopg2.connect(url)
    database.autocommit = True

    def empty() -> None:
        with database.cursor() as cursor:
            cursor.execute("TRUNCATE movie_actors, movies, actors, idempotency_keys, history RESTART IDENTITY CASCADE")
            cursor.execute("VACUUM ANALYZE actors")
            cursor.execute("VACUUM ANALYZE history")

    port = free_port()
    env = server_env(DATABASE_URL=url, LOCAL_ISSUER_PRIVATE_KEY=key, PORT=str(port), BIND_HOST="127.0.0.1",
                     WEB_CONCURRENCY="1", GUNICORN_THREADS="2", RATE_LIMIT_DISABLED="true", GUNICORN_TIMEOUT="120")
    server = subprocess.Popen([GUNICORN, "--config", "gunicorn.conf.py", "app:create_app()"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(base + "/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        copies, imports = [], []
        for _ in range(args.rounds):
            empty()
            started = time.perf_counter()
            with database.cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.copy_expert("COPY actors (name, age, gender) FROM STDIN WITH (FORMAT csv, HEADER)",
                                   io.BytesIO(body))
                cursor.execute("COMMIT")
            copies.append(time.perf_counter() - started)
            empty()
            started = time.perf_counter()
            answer = requests.post(base + "/imports?type=actors", data=body, headers=csv_type, timeout=300)
            imports.append(time.perf_counter() - started)
            assert answer.status_code == 200 and answer.json()["import"]["created"] == rows, answer.text[:500]
        started = time.perf_counter()
        again = requests.post(base + "/imports?type=actors", data=body, headers=csv_type, timeout=300)
        unchanged = time.perf_counter() - started
        assert again.json()["import"]["unchanged"] == rows, again.text[:500]
        started = time.perf_counter()
        changed = requests.post(base + "/imports?type=actors", data=body.replace(b",male", b",man"),
                                headers=csv_type, timeout=300)
        updating = time.perf_counter() - started
        updated = changed.json()["import"]["updated"]
        exported = {}
        for format_ in ("csv", "ndjson"):
            times = []
            for _ in range(args.rounds):
                started = time.perf_counter()
                with requests.get(f"{base}/actors/export?format={format_}", headers=headers, stream=True,
                                  timeout=300) as response:
                    size = sum(len(chunk) for chunk in response.iter_content(65536))
                times.append(time.perf_counter() - started)
            exported[format_] = (min(times), size)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
    ratios = ", ".join(f"{copy / took:.2f}x" for copy, took in zip(copies, imports, strict=True))
    print(f"{rows:,} actors")
    print(f"COPY FROM STDIN:            best {min(copies):.2f} s  ({rows / min(copies):,.0f} rows/s)")
    print(f"POST /imports, all created: best {min(imports):.2f} s  ({rows / min(imports):,.0f} rows/s), "
          f"history included; to COPY, round by round: {ratios}")
    print(f"the same file again:        {unchanged:.2f} s  ({rows / unchanged:,.0f} rows/s), every row unchanged")
    print(f"a file changing {updated:,}:  {updating:.2f} s")
    for format_, (took, size) in exported.items():
        print(f"GET /actors/export {format_:6}:  best {took:.2f} s  ({rows / took:,.0f} rows/s, {size:,} bytes)")


if __name__ == "__main__":
    main()
