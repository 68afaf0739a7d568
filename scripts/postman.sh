#!/usr/bin/env bash
# `make postman`: the Postman collection (postman/) run by newman against a server of its own, so that the
# development database (`make run`'s, DATABASE_URL's) never sees the run: the app in development mode on
# 127.0.0.1:POSTMAN_PORT (5055), on a scratch SQLite file in a fresh temporary folder, with a throwaway key for
# the local issuer and a token per role minted with it. However the run ends, the server is stopped and the
# folder (database, key, log) removed. Arguments go to newman: make postman NEWMAN_ARGS='--folder Setup ...'.
# Exits with newman's status (0: every assertion passed).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '==> %s\n' "$*"; }

port=${POSTMAN_PORT:-5055}
python=.venv/bin/python
flask=(.venv/bin/flask --app app)

if ! npx --no-install newman --version >/dev/null 2>&1; then
  echo "newman is not installed: run npm ci first (Node.js 20.19 or newer)" >&2
  exit 2
fi
# Taken means something listens there (SO_REUSEADDR: the last run's connections in TIME_WAIT do not count).
if ! "$python" -c 'import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.close()' "$port" 2>/dev/null; then
  echo "127.0.0.1:$port is taken: choose another port with POSTMAN_PORT=... make postman" >&2
  exit 2
fi

# Whatever the calling shell has set: development mode (the local issuer), private reads, no Redis, no
# followers, and above all not the development database.
unset AUTH0_DOMAIN API_AUDIENCE JWKS_URL TOKEN_ISSUER DYNO PUBLIC_READS REDIS_URL TRUSTED_PROXY_COUNT \
      DATABASE_FOLLOWER_URLS LOCAL_ISSUER_PRIVATE_KEY
export APP_ENV=development
# The run sends about 160 requests with three tokens: budgets it cannot exhaust (the limiter stays on).
export RATE_LIMIT_READS=1000000/minute RATE_LIMIT_WRITES=1000000/minute

workdir=$(mktemp -d "${TMPDIR:-/tmp}/casting-postman.XXXXXX")
export DATABASE_URL="sqlite:///$workdir/postman.db"
server_pid=""
# shellcheck source=scripts/local-server.sh
. scripts/local-server.sh
trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "a throwaway key for the local issuer, a scratch database: $workdir/postman.db"
LOCAL_ISSUER_PRIVATE_KEY=$(new_issuer_key)
export LOCAL_ISSUER_PRIVATE_KEY  # the server and `flask token` share it; it never reaches a file
"${flask[@]}" db upgrade >"$workdir/migrate.log" 2>&1 || { cat "$workdir/migrate.log" >&2; exit 1; }

step "the app on http://127.0.0.1:$port"
"${flask[@]}" run --host 127.0.0.1 --port "$port" >"$workdir/server.log" 2>&1 &
server_pid=$!
# Up to 30 s for /health to answer 200; gives up at once if the server exits.
if ! "$python" scripts/wait_for.py "http://127.0.0.1:$port/health" "$server_pid" 30; then
  echo "the server did not come up; its log:" >&2
  tail -n 30 "$workdir/server.log" >&2
  exit 1
fi

step "newman: postman/casting-agency.postman_collection.json"
token() { "${flask[@]}" token "$1" --name "$2" --expires-in 3600; }
status=0
# Tokens go in on the command line of newman, never into a file.
npx --no-install newman run postman/casting-agency.postman_collection.json \
    --environment postman/casting-agency.postman_environment.json \
    --env-var "base_url=http://127.0.0.1:$port" \
    --env-var "assistant_token=$(token casting-assistant "Postman, Casting Assistant")" \
    --env-var "director_token=$(token casting-director "Postman, Casting Director")" \
    --env-var "producer_token=$(token executive-producer "Postman, Executive Producer")" \
    --timeout-request 10000 --timeout 300000 "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "newman failed (exit $status); the server's last lines:" >&2
  tail -n 20 "$workdir/server.log" >&2
fi
exit "$status"
