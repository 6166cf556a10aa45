# Sourced by the benchmark scripts: `ot_mix_capture [CAPTURE]` prints the capture to use: the
# one given, else the deterministic OT mix from ../shared/tools/gen_ot_pcap.py, generated once
# into $BENCH_DIR (default /tmp/otwatch-bench).
ot_mix_capture() {
  if [ -n "${1:-}" ]; then
    echo "$1"
    return
  fi
  local dir=${BENCH_DIR:-/tmp/otwatch-bench}
  local capture=$dir/ot-mix.pcap
  if [ ! -s "$capture" ]; then
    local gen=../shared/tools/gen_ot_pcap.py
    if [ ! -f "$gen" ]; then
      echo "no capture given and $gen not found: pass a large pcap as the first argument" >&2
      return 1
    fi
    mkdir -p "$dir"
    echo "generating $capture (1-2 minutes)..." >&2
    python3 "$gen" -o "$capture" >&2
  fi
  echo "$capture"
}
