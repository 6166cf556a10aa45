#!/usr/bin/env bash
# What detection costs and what it says on benign traffic, on the generated OT mix.
#
#   scripts/bench-detect.sh [CAPTURE]
#
# Without CAPTURE it uses (or writes) $BENCH_DIR/ot-mix.pcap with ../shared/tools/gen_ot_pcap.py.
# It splits the capture in two halves by time, learns a policy from the first half
# (`policy learn`), and then, in the same run and interleaved (the machine is shared and noisy):
#   - analyze of the whole capture without detection (--no-detect), with detection, and with
#     detection and the policy: packets per CPU-second (user+sys) of each, the best of $ROUNDS,
#     and the ratio to the run without detection;
#   - the alerts of the second half protected by the policy, by severity and kind, next to what
#     Suricata raises on the same benign mix (about 726,000 alerts on 3.3 M packets, with its
#     bundled decoder/stream/app-layer and Modbus/DNP3/ENIP event rules).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
. scripts/ot-mix.sh
capture=$(ot_mix_capture "${1:-}")
command -v editcap >/dev/null || { echo "editcap (wireshark-common) is needed to split the capture" >&2; exit 1; }

cargo build --release -q -p otwatch-sensor --bin otwatch-sensor
bin=$PWD/target/release/otwatch-sensor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Split at the middle of the capture's time span.
read -r first last < <(capinfos -a -e -T -r -S "$capture" 2>/dev/null | tail -1 | cut -f2,3)
mid=$(awk -v a="$first" -v b="$last" 'BEGIN{printf "%d", (a+b)/2}')
editcap -B "$mid" "$capture" "$work/first.pcap"
editcap -A "$mid" "$capture" "$work/second.pcap"
"$bin" policy learn -q --out "$work/policy.toml" "$work/first.pcap"
cat "$capture" >/dev/null

# packets per CPU-second of one analyze run
run() {
  /usr/bin/time -f '%U %S %M' -o "$work/t" "$bin" analyze -q --format json --out "$work/out.json" "$@" "$capture"
  read -r u s rss < "$work/t"
  packets=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stats"]["packets"])' "$work/out.json")
  awk -v p="$packets" -v u="$u" -v s="$s" -v r="$rss" 'BEGIN{printf "%.0f %d\n", p/(u+s), r/1024}'
}

declare -A best rss
for _ in $(seq "$ROUNDS"); do
  for mode in off on policy; do
    case $mode in
      off) args=(--no-detect) ;;
      on) args=() ;;
      policy) args=(--policy "$work/policy.toml") ;;
    esac
    read -r pps mib < <(run "${args[@]}")
    if [ -z "${best[$mode]:-}" ] || [ "$pps" -gt "${best[$mode]}" ]; then best[$mode]=$pps; fi
    rss[$mode]=$mib
  done
done
echo "capture: $capture"
printf '%-22s %16s %8s %10s\n' analyze packets/cpu-s ratio peak_rss
for mode in off on policy; do
  ratio=$(awk -v a="${best[$mode]}" -v b="${best[off]}" 'BEGIN{printf "%.3f", a/b}')
  label=$mode; [ "$mode" = off ] && label="without detection"; [ "$mode" = on ] && label="detection"; [ "$mode" = policy ] && label="detection + policy"
  printf '%-22s %16s %8s %7s MiB\n' "$label" "${best[$mode]}" "$ratio" "${rss[$mode]}"
done

"$bin" analyze -q --policy "$work/policy.toml" --format json --out "$work/second.json" "$work/second.pcap"
python3 - "$work/second.json" "$work/policy.toml" <<'EOF'
import collections, json, sys
r = json.load(open(sys.argv[1]))
policy = open(sys.argv[2]).read()
alerts = r["alerts"]
by_sev = collections.Counter(a["severity"] for a in alerts)
by_kind = collections.Counter((a["severity"], a["kind"]) for a in alerts)
occ = sum(a["count"] for a in alerts)
print(f"second half ({r['stats']['packets']} packets) protected by the policy learned from the first "
      f"({policy.count('[[asset]]')} assets, {policy.count('[[conversation]]')} conversations):")
print(f"  {len(alerts)} alerts ({occ} occurrences folded in); by severity: "
      + ", ".join(f"{s} {by_sev.get(s, 0)}" for s in ("critical", "high", "medium", "low", "info")))
for (sev, kind), n in sorted(by_kind.items()):
    print(f"    {sev:8} {kind:30} {n}")
print("  Suricata on the same benign mix (whole capture): about 726,000 alerts")
high = by_sev.get("critical", 0) + by_sev.get("high", 0)
print("  high or critical after learning:", high, "(target 0)")
EOF
