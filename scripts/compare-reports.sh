#!/usr/bin/env bash
# Are the reports of a revision byte-identical to those of this checkout, on every capture of a
# corpus? For refactors that must not change what otwatch reports.
#
#   scripts/compare-reports.sh BASE_REV [DIR...]
#
# DIR defaults to tests/data, sensor/tests/data and ../shared/pcaps (if present). Builds
# otwatch-sensor in release at BASE_REV (in a temporary worktree, with its own target directory
# under $COMPARE_TARGET, default /tmp/otwatch-compare-target, kept between runs) and here, runs
# `analyze --format json` of each capture with both, and prints one line per capture that
# differs, then a count. Exits 1 when any report differs.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: scripts/compare-reports.sh BASE_REV [DIR...]}
shift
dirs=("$@")
if [ ${#dirs[@]} -eq 0 ]; then
  dirs=(tests/data sensor/tests/data)
  [ -d ../shared/pcaps ] && dirs+=(../shared/pcaps)
fi
base_dir=$(mktemp -d)
out=$(mktemp -d)
trap 'git worktree remove --force "$base_dir" >/dev/null 2>&1 || true; rm -rf "$base_dir" "$out"' EXIT
git worktree add -q --detach "$base_dir" "$base"
echo "building $base and this checkout (release)..." >&2
(cd "$base_dir" && CARGO_TARGET_DIR=${COMPARE_TARGET:-/tmp/otwatch-compare-target} \
  cargo build --release -q -p otwatch-sensor --bin otwatch-sensor)
cargo build --release -q -p otwatch-sensor --bin otwatch-sensor
old=${COMPARE_TARGET:-/tmp/otwatch-compare-target}/release/otwatch-sensor
new=$PWD/target/release/otwatch-sensor

n=0
differ=0
while IFS= read -r -d '' cap; do
  n=$((n + 1))
  rm -f "$out/old.json" "$out/new.json"
  "$old" analyze --quiet --format json --out "$out/old.json" "$cap" >/dev/null 2>&1 || true
  "$new" analyze --quiet --format json --out "$out/new.json" "$cap" >/dev/null 2>&1 || true
  if ! cmp -s "$out/old.json" "$out/new.json"; then
    differ=$((differ + 1))
    echo "differs: $cap ($(diff <(tr ',' '\n' <"$out/old.json") <(tr ',' '\n' <"$out/new.json") | grep -c '^[<>]') changed fields)"
  fi
done < <(find "${dirs[@]}" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) -print0 | sort -z)
echo "$differ of $n reports differ between $base and this checkout"
[ "$differ" -eq 0 ]
