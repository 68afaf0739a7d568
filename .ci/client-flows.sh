#!/usr/bin/env bash
# Clients generated from a live server's /openapi.json, each running the create-cast-patch-delete flow of
# clients/: openapi-python-client (clients/flow.py) and openapi-typescript + openapi-fetch (clients/flow.ts,
# type-checked by `tsc` with strict on). Generated code is not committed: the Python client goes to a temporary
# folder, the TypeScript types to clients/generated/ (git-ignored), where flow.ts imports them from.
# Called by .ci/api-checks.sh; by hand, against `make run` in another terminal:
#   PRODUCER_TOKEN=$(APP_ENV=development .venv/bin/flask --app app token executive-producer) \
#   DIRECTOR_TOKEN=$(APP_ENV=development .venv/bin/flask --app app token casting-director) \
#   ASSISTANT_TOKEN=$(APP_ENV=development .venv/bin/flask --app app token casting-assistant) bash .ci/client-flows.sh http://127.0.0.1:5000
# Needs .venv (make install) and node_modules (npm ci). Both flows run; fails if either failed.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

base_url=${1:?usage: client-flows.sh BASE_URL (with PRODUCER_TOKEN, DIRECTOR_TOKEN, ASSISTANT_TOKEN set)}
base_url=${base_url%/}
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
# The generators' post-processing (ruff) and the generated client's own imports come from the project's venv.
export PATH="$PWD/.venv/bin:$PATH"

.venv/bin/python - "$base_url/openapi.json" "$workdir/openapi.json" <<'PY'
import sys
import urllib.request

with urllib.request.urlopen(sys.argv[1], timeout=10) as response, open(sys.argv[2], "wb") as out:
    out.write(response.read())
PY

failed=()

step "Python client: openapi-python-client $(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("openapi-python-client"))'), clients/flow.py"
if openapi-python-client generate --path "$workdir/openapi.json" --meta none --fail-on-warning --config clients/openapi-python-client.yaml \
     --output-path "$workdir/python/casting_agency_client" >"$workdir/python-generate.log" 2>&1; then
  PYTHONPATH="$workdir/python" .venv/bin/python clients/flow.py "$base_url" || failed+=("python client")
else
  cat "$workdir/python-generate.log"
  echo "openapi-python-client could not generate the client (or warned)"
  failed+=("python client")
fi

step "TypeScript client: openapi-typescript $(npx --no-install openapi-typescript --version | tr -d '\n'), openapi-fetch, tsc $(npx --no-install tsc --version | sed 's/^Version //'), clients/flow.ts"
rm -rf clients/generated
if npx --no-install openapi-typescript "$workdir/openapi.json" --enum --output clients/generated/api.ts \
     >"$workdir/typescript-generate.log" 2>&1 \
   && npx --no-install tsc --project clients/tsconfig.json; then
  node clients/generated/js/flow.js "$base_url" || failed+=("typescript client")
else
  cat "$workdir/typescript-generate.log"
  echo "openapi-typescript could not generate the types, or flow.ts does not type-check against them"
  failed+=("typescript client")
fi

if [ "${#failed[@]}" -gt 0 ]; then
  printf '\nclient flows FAILED: %s\n' "${failed[*]}" >&2
  exit 1
fi
