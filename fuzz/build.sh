#!/usr/bin/env bash
# CI step for the fuzz package: the targets build on the stable toolchain and stay complete.
# Needs a C++ compiler (libfuzzer-sys compiles libFuzzer with g++ or clang++).
#
#   fuzz/build.sh
#
# Formatting and clippy, every target built, the package's tests (every protocol, decoder and
# detection file parser has a target; every target survives a few inputs; the seeds example
# builds), then every binary started on a few hundred inputs.
# Not --locked: fuzz/Cargo.lock follows the analysis core's dependencies, and a dependency added
# there should not fail this step; cargo adds it to the lock as it builds.
set -euo pipefail
cd "$(dirname "$0")"
command -v c++ >/dev/null 2>&1 || { echo "fuzz/build.sh: no C++ compiler (apt-get install g++)" >&2; exit 1; }

cargo fmt -- --check
# FUZZ_CLIPPY=0 skips clippy (the targets depend on the analysis core only, so it is quick).
[ "${FUZZ_CLIPPY:-1}" = 0 ] || cargo clippy --all-targets -- -D warnings
cargo build --bins
cargo test

bin=${CARGO_TARGET_DIR:-target}/debug
failed=()
for t in $(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | tail -n +2); do
  if ! "$bin/$t" -runs=300 -seed=1 >/dev/null 2>&1; then
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz targets that failed on random inputs: ${failed[*]} (replay: $bin/<target> -runs=300 -seed=1)" >&2
  exit 1
fi
echo "fuzz targets: all built and ran"
