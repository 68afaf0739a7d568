#!/usr/bin/env bash
# Set up what the benchmark needs (wrk, pgbench, a scratch PostgreSQL database, Redis for the rate
# limiter as in production), then run bench/run.py with the arguments given.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null || ! command -v pgbench >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq wrk postgresql-client >/dev/null
  else
    echo "wrk and pgbench are needed: apt-get install wrk postgresql-client" >&2
    exit 2
  fi
fi
# PgBouncer for issue 24's pooled scenario (bench/pooler.py starts a private one; Debian's package may also
# start its own service on 6432, which nothing here uses).
if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq pgbouncer >/dev/null
  else
    echo "pgbouncer is needed for the pgbouncer scenario: apt-get install pgbouncer" >&2
  fi
fi
if [ -z "${BENCH_DATABASE_URL:-}" ]; then
  CI=true bash .ci/postgres.sh >/dev/null
  # shellcheck source=/dev/null
  source .ci/postgres.env
  BENCH_DATABASE_URL=$TEST_DATABASE_URL
fi
export BENCH_DATABASE_URL
# Redis on 127.0.0.1:6379 (started when missing, as for the tests); database 8, which no test uses.
if [ -z "${BENCH_REDIS_URL:-}" ] && bash .ci/redis.sh >/dev/null 2>&1; then
  export BENCH_REDIS_URL=redis://127.0.0.1:6379/8
fi
exec .venv/bin/python bench/run.py "$@"
