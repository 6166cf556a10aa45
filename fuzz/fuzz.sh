#!/usr/bin/env bash
# Coverage-guided fuzzing on the stable toolchain: no nightly, no cargo-fuzz. The targets are
# built in release with the checks on (Cargo.toml) and with the same SanitizerCoverage
# instrumentation cargo-fuzz asks rustc for (only its AddressSanitizer needs nightly), seeded
# from the captures of tests/data (examples/seeds.rs), then each is run for SECONDS.
#
#   fuzz/fuzz.sh [SECONDS] [TARGET...]     default: 25 seconds, every target
#
# Corpora grow in fuzz/corpus/<target>/, crashes land in fuzz/artifacts/<target>/, logs in
# fuzz/logs/<target>.log; reproduce one with fuzz/target/<host>/release/<target> <file>.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-25}
shift || true
host=$(rustc -vV | sed -n 's/^host: //p')

# Seeds first, uninstrumented (the instrumented code needs libFuzzer's hooks to link).
cargo run --quiet --example seeds >/dev/null

# --target keeps the flags off build scripts and proc macros, as cargo-fuzz does.
RUSTFLAGS="-Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 --cfg fuzzing" \
  cargo build --release --target "$host" --bins

if [ $# -eq 0 ]; then
  set -- $(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | tail -n +2)
fi
mkdir -p logs
failed=()
printf '%-14s %10s %8s %8s %s\n' target runs cov corpus result
for t in "$@"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  set +e
  "target/$host/release/$t" "corpus/$t" -max_total_time="$secs" -timeout=10 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 >"logs/$t.log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$t.log")
  cov=$(grep -o 'cov: [0-9]*' "logs/$t.log" | tail -1 | cut -d' ' -f2)
  n=$(ls "corpus/$t" | wc -l)
  if [ $rc -eq 0 ]; then result=ok; else result="FAILED (exit $rc, see logs/$t.log)"; failed+=("$t"); fi
  printf '%-14s %10s %8s %8s %s\n' "$t" "${runs:-?}" "${cov:-?}" "$n" "$result"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "targets that found something: ${failed[*]}"
  exit 1
fi
