#!/usr/bin/env bash
# The OpenAPI document through two linters API teams use, each with its stock rules (.ci/redocly.yaml,
# .ci/spectral.yaml): Redocly CLI (recommended) and Spectral (spectral:oas). Any error or warning fails, and so
# does a problem Redocly was told to ignore. Lints the committed openapi.json (test_openapi.py checks that it
# is what the app serves) and the variant a PUBLIC_READS=true deployment serves.
# Needs .venv (make install) and node_modules (npm ci). Called by .ci/run; by hand: bash .ci/openapi-lint.sh
set -euo pipefail
cd "$(dirname "$0")/.."

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

APP_ENV=development PUBLIC_READS=true .venv/bin/flask --app app openapi >"$workdir/openapi-public-reads.json"

# Prints one line per document and linter; the linters' own report only when they found something.
count() {  # count redocly|spectral REPORT: "E W I" (errors, warnings, ignored or lesser)
  .venv/bin/python - "$1" "$2" <<'PY'
import json
import sys

linter, path = sys.argv[1], sys.argv[2]
with open(path) as report:
    data = json.load(report)
if linter == "redocly":
    totals = data["totals"]
    print(totals["errors"], totals["warnings"], totals["ignored"])
else:  # spectral: severity 0 error, 1 warning, 2 info, 3 hint
    severities = [problem["severity"] for problem in data]
    print(severities.count(0), severities.count(1), sum(s > 1 for s in severities))
PY
}

failed=0
for document in openapi.json "$workdir/openapi-public-reads.json"; do
  name=$(basename "$document")
  npx --no-install redocly lint --config .ci/redocly.yaml --format json "$document" >"$workdir/redocly.json" 2>"$workdir/redocly.err" || true
  npx --no-install spectral lint --ruleset .ci/spectral.yaml --format json --quiet --fail-severity hint "$document" \
    --output "$workdir/spectral.json" 2>"$workdir/spectral.err" || true
  for linter in redocly spectral; do
    if ! read -r errors warnings other < <(count "$linter" "$workdir/$linter.json" 2>/dev/null); then
      cat "$workdir/$linter.err"
      echo "$name: $linter did not produce a report"
      failed=1
      continue
    fi
    echo "$name: $linter: $errors errors, $warnings warnings, $other ignored or lesser"
    if [ "$errors" != 0 ] || [ "$warnings" != 0 ] || [ "$other" != 0 ]; then
      failed=1
      if [ "$linter" = redocly ]; then
        npx --no-install redocly lint --config .ci/redocly.yaml "$document" 2>&1 | grep -v '[║╔╚]' || true
      else
        npx --no-install spectral lint --ruleset .ci/spectral.yaml --fail-severity hint "$document" || true
      fi
    fi
  done
done
exit "$failed"
