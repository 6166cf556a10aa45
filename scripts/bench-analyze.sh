#!/usr/bin/env bash
# Throughput and memory of `otwatch-sensor analyze` on a large deterministic OT-mix capture.
#
#   scripts/bench-analyze.sh [CAPTURE]
#
# Without CAPTURE it writes one with ../shared/tools/gen_ot_pcap.py (~3.3 M packets, ~550 MB) into
# $BENCH_DIR (default /tmp/otwatch-bench). It prints, for the same file in the same run, packets/s of
# the bare capture reader, of reader + decode, and of the full analyze pipeline, each as a ratio to the
# reader, then the wall time and peak RSS of the real `otwatch-sensor analyze` command. The machine is
# shared and noisy: compare ratios, and run it twice.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/ot-mix.sh
capture=$(ot_mix_capture "${1:-}")

cargo build --release -q -p otwatch-sensor --bin otwatch-sensor --example stages
bin=target/release/otwatch-sensor
stages=target/release/examples/stages

# Warm the page cache so the first stage does not pay for the disk.
cat "$capture" >/dev/null

echo "capture: $capture ($(du -h "$capture" | cut -f1))"
read_pps=
printf '%-8s %12s %9s %14s %8s %12s\n' stage packets seconds packets/s ratio peak_rss
for stage in read decode full; do
  read -r name packets secs pps rss < <("$stages" "$stage" "$capture")
  [ -z "$read_pps" ] && read_pps=$pps
  ratio=$(awk -v a="$pps" -v b="$read_pps" 'BEGIN{printf "%.3f", a/b}')
  printf '%-8s %12s %9s %14s %8s %9s KiB\n' "$name" "$packets" "$secs" "$pps" "$ratio" "$rss"
done

out=$(mktemp)
/usr/bin/time -f '%e %M' -o "$out.time" "$bin" analyze --quiet --format json --out "$out" "$capture"
read -r wall rss < "$out.time"
packets=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stats"]["packets"])' "$out")
awk -v p="$packets" -v w="$wall" -v r="$rss" 'BEGIN{printf "analyze command: %d packets in %.2f s = %.0f packets/s, peak RSS %d MiB\n", p, w, p/w, r/1024}'
rm -f "$out" "$out.time"

# Detection's share, on the same capture: without it, with it, with a learned policy, and the
# alerts it raises on the benign second half (SKIP_DETECT=1 to leave it out).
if [ -z "${SKIP_DETECT:-}" ]; then
  echo
  scripts/bench-detect.sh "$capture"
fi
