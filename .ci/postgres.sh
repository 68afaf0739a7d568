#!/usr/bin/env bash
# Make sure PostgreSQL runs, and create the project's own role and a scratch database over
# the local socket (TCP may want a password). Writes TEST_DATABASE_URL to .ci/postgres.env.
set -euo pipefail
cd "$(dirname "$0")"

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null; then
    version=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)
    [ -n "$version" ] && pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2
  [ "${CI:-}" = "true" ] && exit 1
  echo "(not CI: the tests will run on SQLite)" >&2
  : > postgres.env
  exit 0
fi

psql_admin() { runuser -u postgres -- psql -v ON_ERROR_STOP=1 -q "$@"; }
password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
database="casting_ci_$$"
psql_admin <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'casting_ci') THEN
    CREATE ROLE casting_ci LOGIN;
  END IF;
END \$\$;
ALTER ROLE casting_ci CREATEDB PASSWORD '$password';
SQL
# Scratch databases of earlier runs are dropped; this run gets a new one.
for old in $(psql_admin -tA -c "SELECT datname FROM pg_database WHERE datname LIKE 'casting_ci_%'"); do
  psql_admin -c "DROP DATABASE IF EXISTS \"$old\" WITH (FORCE)"
done
psql_admin -c "CREATE DATABASE \"$database\" OWNER casting_ci"
echo "TEST_DATABASE_URL=postgresql://casting_ci:$password@127.0.0.1:5432/$database" > postgres.env
echo "scratch database $database ready"
