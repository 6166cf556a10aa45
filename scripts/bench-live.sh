#!/usr/bin/env bash
# Live-capture throughput of `otwatch-sensor run`: a fast sender (sensor/examples/blast.rs:
# AF_PACKET, sendmmsg, PACKET_QDISC_BYPASS) in one network namespace drives UDP frames into a
# veth pair whose other end the sensor reads in a second namespace. For each capture mode,
# worker count, frame size and offered rate it prints what was sent, what the sensor received,
# what the kernel dropped at the ring (counted by the sensor), what was lost before the ring
# (veth/backlog drops, from `ip -s link`), and received packets/s.
#
#   scripts/bench-live.sh [SECONDS]          (root; default 5 s per cell)
#   MODES="af_packet af_xdp" WORKERS="1 2" SIZES="64 600" RATES="max 600000 300000" scripts/bench-live.sh
#
# The machine is shared and noisy and on veth the sender and the sensor share two cores:
# compare cells of one run, and run it twice.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces, live capture)" >&2; exit 1; }

secs=${1:-5}
modes=${MODES:-"af_packet af_xdp"}
workers_list=${WORKERS:-"1 2"}
sizes=${SIZES:-"64 600"}
rates=${RATES:-"max 600000 300000"}

cargo build --release -q -p otwatch-sensor --bin otwatch-sensor --example blast
bin=target/release/otwatch-sensor
blast=target/release/examples/blast

tag=$$
tx=otwbtx$tag
rx=otwbrx$tag
work=$(mktemp -d)
cleanup() {
  ip netns del "$tx" 2>/dev/null || true
  ip netns del "$rx" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$tx"
ip netns add "$rx"
ip link add b0 netns "$tx" type veth peer name b1 netns "$rx"
for ns in "$tx" "$rx"; do
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip netns exec "$tx" ip link set b0 up
ip netns exec "$rx" ip link set b1 up

rx_dropped() {
  ip netns exec "$rx" cat /sys/class/net/b1/statistics/rx_dropped
}

printf '%-10s %7s %5s %8s %10s %10s %10s %10s %10s %8s\n' \
  mode workers size offered sent received ring_drop pre_ring rx_pps loss%
for mode in $modes; do
  for w in $workers_list; do
    for size in $sizes; do
      for rate in $rates; do
        state=$work/state-$mode-$w-$size-$rate
        ip netns exec "$rx" "$bin" run -i b1 --capture "$mode" --workers "$w" \
          --state "$state" --commit-interval 60 2>"$work/sensor.log" &
        pid=$!
        for _ in $(seq 100); do grep -q "running with" "$work/sensor.log" && break; sleep 0.1; done
        before=$(rx_dropped)
        pps_arg=()
        [ "$rate" != max ] && pps_arg=(--pps "$rate")
        out=$(ip netns exec "$tx" "$blast" --interface b0 --size "$size" --seconds "$secs" "${pps_arg[@]}")
        sleep 0.5
        kill -TERM $pid
        wait $pid || { echo "sensor failed:"; cat "$work/sensor.log"; exit 1; }
        after=$(rx_dropped)
        sent=$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' <<<"$out")
        secs_sent=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$out")
        read -r recv ring < <("$bin" inventory --state "$state" --format json | python3 -c '
import json, sys
s = json.load(sys.stdin)["stats"]["sources"]
print(sum(x["packets"] for x in s), sum(x["kernel_drops"] + x["rx_ring_full"] for x in s))')
        pre=$((after - before))
        python3 - "$mode" "$w" "$size" "$rate" "$sent" "$recv" "$ring" "$pre" "$secs_sent" <<'EOF'
import sys
mode, w, size, rate, sent, recv, ring, pre, secs = sys.argv[1:]
sent, recv, ring, pre, secs = int(sent), int(recv), int(ring), int(pre), float(secs)
loss = 100.0 * (sent - recv) / sent if sent else 0.0
print(f"{mode:<10} {w:>7} {size:>5} {rate:>8} {sent:>10} {recv:>10} {ring:>10} {pre:>10} {recv/secs:>10.0f} {loss:>8.3f}")
EOF
      done
    done
  done
done
