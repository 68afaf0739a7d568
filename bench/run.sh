#!/usr/bin/env bash
# Set up what the benchmark needs (wrk, a scratch PostgreSQL database), then run bench/run.py.
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
if [ -z "${BENCH_DATABASE_URL:-}" ]; then
  CI=true bash .ci/postgres.sh >/dev/null
  # shellcheck source=/dev/null
  source .ci/postgres.env
  BENCH_DATABASE_URL=$TEST_DATABASE_URL
fi
export BENCH_DATABASE_URL
exec .venv/bin/python bench/run.py "$@"
