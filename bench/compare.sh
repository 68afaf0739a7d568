#!/usr/bin/env bash
# Chosen scenarios (the write mix unless ONLY says otherwise) at a base commit and in this checkout, in
# alternating rounds, each run on a scratch database of its own, then the median of each side:
#
#     bash bench/compare.sh BASE [more bench/run.py arguments]
#     ONLY="write mix" SIZES=10000 ROUNDS=3 bash bench/compare.sh 21cee35 --duration 10
#
# The base commit is checked out in a temporary worktree (removed afterwards); it runs under this
# checkout's virtualenv unless its requirements differ, in which case it gets one of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: bash bench/compare.sh BASE [bench/run.py arguments]}
shift
only=${ONLY:-write mix}
sizes=${SIZES:-10000}
rounds=${ROUNDS:-3}

worktree=$(mktemp -d "${TMPDIR:-/tmp}/casting-bench-base.XXXXXX")
out=$(mktemp -d "${TMPDIR:-/tmp}/casting-bench-compare.XXXXXX")
cleanup() { git worktree remove --force "$worktree" >/dev/null 2>&1 || true; rm -rf "$out"; }
trap cleanup EXIT
git worktree add --quiet --detach "$worktree" "$base"
if ! cmp -s requirements.txt "$worktree/requirements.txt"; then
  echo "== $base has other requirements: a virtualenv of its own"
  python3 -m venv "$worktree/.venv"
  "$worktree/.venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$worktree/requirements.txt"
fi

for round in $(seq 1 "$rounds"); do
  for side in base head; do
    if [ "$side" = base ]; then app=$worktree; else app=$PWD; fi
    echo "== round $round, $side ($(git -C "$app" describe --always --dirty))"
    # No BENCH_DATABASE_URL: bench/run.sh makes a new scratch database (each side migrates its own).
    env -u BENCH_DATABASE_URL bash bench/run.sh --app-dir "$app" --only "$only" --sizes "$sizes" \
      --json "$out/$side-$round.json" "$@" || echo "(this run reported failures: see above)"
  done
done

.venv/bin/python - "$out" "$rounds" <<'PY'
import json, statistics, sys
from pathlib import Path

out, rounds = Path(sys.argv[1]), int(sys.argv[2])
runs = {side: [json.loads((out / f"{side}-{r}.json").read_text()) for r in range(1, rounds + 1)] for side in ("base", "head")}
print(f"\nmedian of {rounds} rounds (req/s; p99 ms):")
first = runs["base"][0]["rows"]
for index, row in enumerate(first):
    for name in row["scenarios"]:
        medians = {}
        for side, results in runs.items():
            figures = [result["rows"][index]["scenarios"][name] for result in results]
            medians[side] = (statistics.median(f["rps"] for f in figures), statistics.median(f["p99"] for f in figures))
        (b_rps, b_p99), (h_rps, h_p99) = medians["base"], medians["head"]
        print(f"  {row['size']:>9,} {name:<42} base {b_rps:8.0f} ({b_p99:6.1f})  head {h_rps:8.0f} ({h_p99:6.1f})"
              f"  head/base {h_rps / b_rps:.2f}")
PY
