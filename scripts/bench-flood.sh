#!/usr/bin/env bash
# Memory and time of `otwatch-sensor analyze` under floods, with the default caps.
#
#   scripts/bench-flood.sh [FLOWS] [SYNS]
#
# Writes two hostile captures with the `flood` example (deterministic): FLOWS one-packet TCP/UDP
# flows from random 10/8 sources to random 10/8 hosts (default 1,000,000), and SYNS spoofed SYNs
# at one controller (default 2,000,000). For each it prints wall time, packets/s, peak RSS and
# peak RSS per million flows, and what the caps evicted. With BASELINE=capture (e.g. the OT mix
# from scripts/bench-analyze.sh) that capture runs first through the same command, and each
# flood's packets/s is shown as a ratio to it. The machine is shared and noisy: compare ratios,
# and run it twice.
set -euo pipefail
cd "$(dirname "$0")/.."
flows=${1:-1000000}
syns=${2:-2000000}
dir=${BENCH_DIR:-/tmp/otwatch-bench}/flood
mkdir -p "$dir"

cargo build --release -q -p otwatch-sensor --bin otwatch-sensor --example flood
bin=target/release/otwatch-sensor
gen=target/release/examples/flood

[ -s "$dir/flows-$flows.pcap" ] || "$gen" flows "$flows" "$dir/flows-$flows.pcap"
[ -s "$dir/syn-$syns.pcap" ] || "$gen" syn "$syns" "$dir/syn-$syns.pcap"
baseline=${BASELINE:-}

printf '%-10s %10s %8s %12s %10s %14s %8s  %s\n' capture packets wall_s packets/s rss_MiB MiB/M_flows ratio limits
base_pps=
run() {
  local name=$1 file=$2
  local out time
  out=$(mktemp) time=$(mktemp)
  /usr/bin/time -f '%e %M' -o "$time" "$bin" analyze --quiet --format json --out "$out" "$file"
  read -r wall rss <"$time"
  python3 - "$out" "$name" "$wall" "$rss" "${base_pps:-0}" <<'PY'
import json, sys
out, name, wall, rss, base = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
r = json.load(open(out))
s = r["stats"]
pps = s["packets"] / max(wall, 1e-9)
mib = rss / 1024
per_m = mib / max(s["flows"] / 1e6, 1e-9)
ratio = f"{pps / base:.2f}" if base else "1.00"
lim = ",".join(f"{k}={v}" for k, v in sorted(s["limits"].items()))
print(f"{name:<10} {s['packets']:>10} {wall:>8.2f} {pps:>12.0f} {mib:>10.0f} {per_m:>14.0f} {ratio:>8}  {lim}")
open("/tmp/.otwatch-bench-pps", "w").write(str(pps))
PY
  rm -f "$out" "$time"
}
if [ -n "$baseline" ]; then
  run baseline "$baseline"
  base_pps=$(cat /tmp/.otwatch-bench-pps)
fi
run flows "$dir/flows-$flows.pcap"
run syn "$dir/syn-$syns.pcap"
rm -f /tmp/.otwatch-bench-pps
