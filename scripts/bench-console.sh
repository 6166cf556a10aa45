#!/usr/bin/env bash
# The web console's map with a big fleet: an in-process manager (release build) holding ASSETS
# assets and EDGES conversations at SITES sites, then chromium (playwright-core) opens the map and
# prints one JSON line: nodes, edges, first_draw_ms (navigation start to the first frame drawn),
# fetch_ms (/api/map), and frame intervals (p50/p95) while the camera zooms and pans for 3 s.
#
#   scripts/bench-console.sh                        # 10 000 assets, 50 000 conversations
#   ASSETS=2000 EDGES=8000 scripts/bench-console.sh
#
# Needs node 20+, chromium and `npm ci` in manager/console. The machine is shared and noisy: run
# it three times.
set -euo pipefail
cd "$(dirname "$0")/.."
export ASSETS=${ASSETS:-10000} EDGES=${EDGES:-50000} SITES=${SITES:-4} OTWATCH_TEST_LOG=debug
(cd manager/console && [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --loglevel=error)
echo "building (release)..." >&2
cargo test -q --release -p otwatch-manager --test bench_console --no-run >&2
cargo test -q --release -p otwatch-manager --test bench_console -- --ignored --nocapture --test-threads 1 2>/dev/null |
  grep -E '^(fleet|manager|\{)' || {
  echo "the benchmark failed; run it directly to see why:" >&2
  echo "  ASSETS=$ASSETS EDGES=$EDGES cargo test --release -p otwatch-manager --test bench_console -- --ignored --nocapture" >&2
  exit 1
}
