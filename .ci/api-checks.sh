#!/usr/bin/env bash
# Third-party clients against a live server: migrate and seed TEST_DATABASE_URL, start gunicorn on
# 127.0.0.1 with a throwaway local-issuer key, mint a token per role, then run scripts/smoke.py, the
# Postman collection (newman), the flows of the clients generated from /openapi.json (.ci/client-flows.sh)
# and schemathesis. Every check runs; the script fails if any of them failed.
# Called by CI (.ci/run) before the test suite: TEST_DATABASE_URL=postgresql://... bash .ci/api-checks.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

: "${TEST_DATABASE_URL:?TEST_DATABASE_URL must name a scratch PostgreSQL database}"
python=.venv/bin/python
flask=(.venv/bin/flask --app app)

# These checks need development mode (the local issuer), private reads and no shared rate-limit store,
# whatever the calling shell has set.
unset AUTH0_DOMAIN API_AUDIENCE JWKS_URL TOKEN_ISSUER DYNO PUBLIC_READS REDIS_URL TRUSTED_PROXY_COUNT
export APP_ENV=development
export DATABASE_URL="$TEST_DATABASE_URL"
# The fuzzer sends thousands of requests with one token: budgets it cannot exhaust (the limiter stays on).
export RATE_LIMIT_READS=1000000/minute RATE_LIMIT_WRITES=1000000/minute

workdir=$(mktemp -d)
server_pid=""
# shellcheck source=scripts/local-server.sh
. scripts/local-server.sh
trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "npm packages (npm ci from package-lock.json, unless node_modules already matches it)"
if ! npm ls --all >/dev/null 2>&1; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npx --no-install newman --version

step "schema and demo data (flask db upgrade, flask seed)"
"${flask[@]}" db upgrade
"${flask[@]}" seed

step "throwaway key for the local token issuer"
# The server and `flask token` share it (both read LOCAL_ISSUER_PRIVATE_KEY); it never reaches a file.
LOCAL_ISSUER_PRIVATE_KEY=$(new_issuer_key)
export LOCAL_ISSUER_PRIVATE_KEY

step "gunicorn on 127.0.0.1"
PORT=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
BASE_URL="http://127.0.0.1:$PORT"
server_log="$workdir/gunicorn.log"
PORT=$PORT .venv/bin/gunicorn --config gunicorn.conf.py 'app:create_app()' >"$server_log" 2>&1 &
server_pid=$!
# Up to 20 s for /health to answer 200; gives up at once if gunicorn exits.
if ! "$python" scripts/wait_for.py "$BASE_URL/health" "$server_pid" 20; then
  echo "the server did not come up at $BASE_URL; its log:" >&2
  tail -n 50 "$server_log" >&2
  exit 1
fi
echo "up at $BASE_URL (pid $server_pid)"

step "tokens (flask token, one per role)"
ASSISTANT_TOKEN=$("${flask[@]}" token casting-assistant --expires-in 3600)
DIRECTOR_TOKEN=$("${flask[@]}" token casting-director --expires-in 3600)
PRODUCER_TOKEN=$("${flask[@]}" token executive-producer --expires-in 3600)
echo "minted 3 tokens (not shown)"

failed=()

step "smoke test (scripts/smoke.py)"
if ! ASSISTANT_TOKEN="$ASSISTANT_TOKEN" DIRECTOR_TOKEN="$DIRECTOR_TOKEN" PRODUCER_TOKEN="$PRODUCER_TOKEN" \
    "$python" scripts/smoke.py --timeout 10 "$BASE_URL"; then
  failed+=("smoke")
fi

step "Postman collection (newman)"
# Tokens go in on the command line, never into a file; no --bail, so every failure is reported.
if ! npx --no-install newman run postman/casting-agency.postman_collection.json \
    --environment postman/casting-agency.postman_environment.json \
    --env-var "base_url=$BASE_URL" \
    --env-var "assistant_token=$ASSISTANT_TOKEN" \
    --env-var "director_token=$DIRECTOR_TOKEN" \
    --env-var "producer_token=$PRODUCER_TOKEN" \
    --timeout-request 10000 --timeout 300000 \
    --reporters cli --color off; then
  failed+=("newman")
fi

step "clients generated from /openapi.json (.ci/client-flows.sh)"
if ! PRODUCER_TOKEN="$PRODUCER_TOKEN" DIRECTOR_TOKEN="$DIRECTOR_TOKEN" ASSISTANT_TOKEN="$ASSISTANT_TOKEN" \
    bash .ci/client-flows.sh "$BASE_URL"; then
  failed+=("client flows")
fi

# schemathesis: every default check (server errors, undocumented statuses, response schemas,
# positive/negative data, unsupported methods...) in all its phases, stateful included, following the
# document's links; a bounded number of examples per operation. Settings in .ci/schemathesis.toml.
# A fixed seed by default, so that CI judges the tree it is given, the same way every run (a new
# finding shows up when the code or the document changes). `make fuzz` explores: FUZZ_SEED=random
# draws a fresh seed per run (printed, for `--seed` replays) and FUZZ_SCALE multiplies the examples.
FUZZ_SEED=${FUZZ_SEED:-20261122}
FUZZ_SCALE=${FUZZ_SCALE:-1}
# The producer's run may not see a 401 or 403 for a valid request (.ci/schemathesis.toml); the others may
# (.ci/schemathesis-limited.toml).
schemathesis_run() {
  local label=$1 config=$2 examples=$(( $3 * FUZZ_SCALE )) seed=()
  shift 3
  [ "$FUZZ_SEED" = random ] || seed=(--seed "$FUZZ_SEED")
  step "schemathesis: $label ($examples examples per operation, seed ${FUZZ_SEED})"
  # The report goes to a file: its closing banner ("=== 1 warning in 5.6s ===") reads like a test
  # runner's summary, and CI takes the last such line as the run's result. Shown in full on failure.
  local report="$workdir/schemathesis-${label// /-}.log" status=0
  .venv/bin/schemathesis --config-file "$config" run "$BASE_URL/openapi.json" --max-examples "$examples" \
      --generation-database none --request-timeout 10 --no-color "${seed[@]}" "$@" >"$report" 2>&1 || status=$?
  local cases
  cases=$(grep -A1 '^Test cases:' "$report" | tail -n 1 | sed 's/^ *//')
  grep -E '^Seed: ' "$report" || true
  if [ "$status" -ne 0 ]; then
    cat "$report"
    echo "schemathesis ($label) FAILED with exit code $status: ${cases:-no test cases reported}"
    return 1
  fi
  if [ -z "$cases" ]; then
    cat "$report"
    echo "schemathesis ($label) reported no test cases"
    return 1
  fi
  echo "schemathesis ($label): $cases"
}
limited=.ci/schemathesis-limited.toml
if ! schemathesis_run "executive producer" .ci/schemathesis.toml 25 -H "Authorization: Bearer $PRODUCER_TOKEN"; then
  failed+=("schemathesis (producer)")
fi
if ! schemathesis_run "casting director" "$limited" 10 -H "Authorization: Bearer $DIRECTOR_TOKEN"; then
  failed+=("schemathesis (director)")
fi
if ! schemathesis_run "casting assistant" "$limited" 10 -H "Authorization: Bearer $ASSISTANT_TOKEN"; then
  failed+=("schemathesis (assistant)")
fi
if ! schemathesis_run "no token" "$limited" 10; then
  failed+=("schemathesis (no token)")
fi

if [ "${#failed[@]}" -gt 0 ]; then
  printf '\napi checks FAILED: %s\n' "${failed[*]}" >&2
  echo "server log: its warnings and errors (the last 20), then its last 10 lines:" >&2
  grep -E '"level": "(WARNING|ERROR|CRITICAL)"|\[(ERROR|CRITICAL)\]' "$server_log" | tail -n 20 >&2 || true
  tail -n 10 "$server_log" >&2
  exit 1
fi
printf '\napi checks passed: smoke, newman, client flows (python, typescript), schemathesis x4\n'
