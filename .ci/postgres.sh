#!/usr/bin/env bash
# Make sure PostgreSQL runs, and create this run's own role and scratch database over the local
# socket (TCP may want a password). Writes TEST_DATABASE_URL to .ci/postgres.env.
#
# Each run gets a role and a database of its own, both named casting_ci_<epoch>_<pid>, so two runs
# on one machine (two clones, `make fuzz` beside `.ci/run`) never change each other's password or
# drop each other's database. Leftovers of runs that started more than three hours ago (CI gives a
# run 90 minutes) are dropped, with the scratch databases their tests may have left (a worker's own, the deployment tests').
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
now=$(date +%s)
name="casting_ci_${now}_$$"
password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')

# Leftovers of runs that started over three hours ago (and of the old shared role casting_ci): each
# role's databases first (a role that owns one cannot go), skipping any still in use, then the role.
stale_before=$(( now - 3 * 3600 ))
for role in $(psql_admin -tA -c "SELECT rolname FROM pg_roles
                                  WHERE rolname ~ '^casting_ci_[0-9]+_[0-9]+$' OR rolname = 'casting_ci'"); do
  started=$(sed -nE 's/^casting_ci_([0-9]+)_[0-9]+$/\1/p' <<<"$role")
  if [ -n "$started" ] && [ "$started" -ge "$stale_before" ]; then
    continue  # another run's, and it may still be going
  fi
  for old in $(psql_admin -tA -c "SELECT d.datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba
                                   WHERE r.rolname = '$role'"); do
    psql_admin -c "DROP DATABASE IF EXISTS \"$old\"" 2>/dev/null || echo "left $old alone (in use)"
  done
  psql_admin -c "DROP ROLE IF EXISTS \"$role\"" 2>/dev/null || echo "left role $role alone (it still owns something)"
done

# CREATEDB: each pytest-xdist worker of `make test` makes a database of its own next to this one (<name>_gw0...),
# and the deployment tests make scratch databases of their own.
psql_admin -c "CREATE ROLE \"$name\" LOGIN CREATEDB PASSWORD '$password'"
psql_admin -c "CREATE DATABASE \"$name\" OWNER \"$name\""
echo "TEST_DATABASE_URL=postgresql://$name:$password@127.0.0.1:5432/$name" > postgres.env
echo "scratch role and database $name ready"
