#!/usr/bin/env bash
# Advisory import and matching figures: every CISA OT advisory (CSAF 2.0, cisagov/CSAF
# csaf_files/OT) is parsed and loaded into one catalog, then DEVICES synthetic devices (half
# with order numbers taken from the advisories, half unknown) are matched against it.
#
#   scripts/bench-advisories.sh                   # 100 000 devices
#   DEVICES=10000 VERBOSE=1 scripts/bench-advisories.sh   # also list the matches of real identities
#   CSAF_DIR=/path/to/csaf_files/OT scripts/bench-advisories.sh   # a feed you already have
#
# The feed is exported from the local mirror of cisagov/CSAF (the `fetch` tool puts it under
# /work/.mirror; MIRROR overrides) into a temporary directory, removed afterwards. Without a
# mirror or CSAF_DIR it says so and exits 0. It prints documents parsed/failed and the time,
# the catalog size, the version ranges it could not read (by shape), and the matching time.
set -euo pipefail
cd "$(dirname "$0")/.."

DEVICES=${DEVICES:-100000}
MIRROR=${MIRROR:-/work/.mirror/cisagov+CSAF/repo}

if [ -z "${CSAF_DIR:-}" ]; then
  if ! git --git-dir="$MIRROR" rev-parse --verify -q HEAD >/dev/null 2>&1; then
    echo "skipped: no cisagov/CSAF mirror at $MIRROR and no CSAF_DIR." >&2
    echo "  fetch github:cisagov/CSAF (or clone it) and set MIRROR=<git dir> or CSAF_DIR=<csaf_files/OT>." >&2
    exit 0
  fi
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  commit=$(git --git-dir="$MIRROR" rev-parse HEAD)
  echo "exporting csaf_files/OT of cisagov/CSAF $commit to $tmp" >&2
  git --git-dir="$MIRROR" archive HEAD csaf_files/OT | tar -x -C "$tmp"
  CSAF_DIR="$tmp/csaf_files/OT"
fi

echo "building (bench profile)..." >&2
cargo bench -q -p otwatch-advisories --bench feed --no-run >&2
env OTWATCH_CSAF_DIR="$CSAF_DIR" OTWATCH_BENCH_DEVICES="$DEVICES" \
  ${VERBOSE:+OTWATCH_BENCH_VERBOSE=1} \
  cargo bench -q -p otwatch-advisories --bench feed

# The whole feed against real captures: every bundled capture (tests/data) and, when present,
# the shared corpus (../shared/pcaps), each analysed with `--advisories` on the exported feed.
# Prints the time (loading the feed is part of each run) and every identified device with its
# matches: affected / possibly affected CVEs, end of life.
echo >&2
echo "building otwatch-sensor (release)..." >&2
cargo build -q --release -p otwatch-sensor >&2
sensor=target/release/otwatch-sensor
captures=()
while IFS= read -r f; do captures+=("$f"); done < <(
  find tests/data ${SHARED_PCAPS:-../shared/pcaps} -maxdepth 3 -type f \
    \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) 2>/dev/null | sort)
out=$(mktemp -d)
trap 'rm -rf "$out" ${tmp:+"$tmp"}' EXIT
start=$(date +%s.%N)
i=0
for c in "${captures[@]}"; do
  i=$((i + 1))
  "$sensor" analyze -q --format json --advisories "$CSAF_DIR" "$c" > "$out/$i.json" 2>/dev/null || true
  printf '%s\n' "$c" > "$out/$i.name"
done
end=$(date +%s.%N)
python3 - "$out" "${#captures[@]}" "$start" "$end" <<'PY'
import json, os, sys
out, n, start, end = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
print(f"\nwhole feed x {n} captures: {end - start:.1f} s ({(end - start) / max(n, 1):.2f} s a capture, feed loading included)")
rows = []
for i in range(1, n + 1):
    name = open(f"{out}/{i}.name").read().strip()
    try:
        report = json.load(open(f"{out}/{i}.json"))
    except Exception:
        continue
    for a in report.get("assets", []):
        vulns = a.get("vulnerabilities", [])
        if not (a.get("model") or vulns):
            continue
        aff = sum(v.get("status") == "affected" for v in vulns)
        pos = len(vulns) - aff
        eol = any(v.get("end_of_life") for v in vulns)
        ip = (a.get("ips") or [a.get("id")])[0]
        rows.append((os.path.basename(name), ip, a.get("vendor", ""), a.get("model", ""),
                     a.get("firmware", ""), aff, pos, "EOL" if eol else ""))
print(f"{'capture':40} {'address':16} {'vendor':22} {'model':28} {'firmware':12} aff poss")
for r in rows:
    print(f"{r[0][:40]:40} {r[1][:16]:16} {r[2][:22]:22} {r[3][:28]:28} {r[4][:12]:12} {r[5]:3} {r[6]:4} {r[7]}")
matched = sum(1 for r in rows if r[5] or r[6])
print(f"\n{len(rows)} devices with a model, {matched} with at least one match")
PY
