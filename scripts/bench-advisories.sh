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
