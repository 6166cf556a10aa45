#!/usr/bin/env bash
# Manager ingest and query figures: SENSORS simulated sensors (one process, each with its own
# enrolment, certificate and mutual-TLS Sync stream) push ASSETS asset upserts of distinct devices
# to one in-process manager backed by sled on disk; then ListAssets is timed over the fleet.
#
#   scripts/bench-manager.sh                      # 100 sensors, 100 000 assets, batches of 500
#   SENSORS=20 ASSETS=20000 BATCH=100 scripts/bench-manager.sh
#   STORE=postgres scripts/bench-manager.sh       # the store in a PostgreSQL server it starts
#   TIMES=capture scripts/bench-manager.sh        # devices stamped with an old capture's times, not now
#
# It prints sensors, deltas, seconds, deltas/s applied (durable: batches are committed in groups,
# one sled transaction flushed to disk per group, and acked once in the fleet view), the first
# ListAssets, p50/p99 of ListAssets with 100 per page (one site, all sites, filtered queries), and
# a second wave of updates while an operator keeps listing (its rate and list latency), and the
# process's resident memory (the manager runs in it) before and after ingest, per asset. The store is
# written under $TMPDIR (default /tmp): point it at the disk you care about. The machine is shared
# and noisy: run it three times.
set -euo pipefail
cd "$(dirname "$0")/.."

export SENSORS=${SENSORS:-100}
export ASSETS=${ASSETS:-100000}
export BATCH=${BATCH:-500}
export QUERIES=${QUERIES:-200}
export STORE=${STORE:-sled}
export TIMES=${TIMES:-live}

echo "building (release)..." >&2
cargo test -q --release -p otwatch-manager --test bench_ingest --no-run >&2
echo "running: SENSORS=$SENSORS ASSETS=$ASSETS BATCH=$BATCH QUERIES=$QUERIES STORE=$STORE TIMES=$TIMES, store under ${TMPDIR:-/tmp}" >&2
# Only the figures: the test harness's own lines are dropped.
cargo test -q --release -p otwatch-manager --test bench_ingest -- --ignored --nocapture --test-threads 1 2>/dev/null |
  grep -E '^(store|sensors|batch|deltas|batches|seconds|cpu|first list|memory|list |updates|rss)' || {
  echo "the benchmark failed; run it directly to see why:" >&2
  echo "  SENSORS=$SENSORS ASSETS=$ASSETS BATCH=$BATCH cargo test --release -p otwatch-manager --test bench_ingest -- --ignored --nocapture" >&2
  exit 1
}
