#!/usr/bin/env bash
# The analysis core (sensor/analysis, crate otwatch-analysis) does no I/O of its own: it must
# not depend, even indirectly, on an async runtime, a store, a network or TLS stack, or a
# configuration loader. Fails listing the offending crates and the path that pulls them in.
#
#   scripts/check-analysis-deps.sh
set -euo pipefail
cd "$(dirname "$0")/.."
forbidden='^(tokio|tokio-[a-z-]+|mio|sled|tonic|tonic-[a-z-]+|hyper|h2|tower|rustls|tokio-rustls|rcgen|config|tracing-subscriber)$'
deps=$(cargo tree -p otwatch-analysis -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
bad=$(grep -E "$forbidden" <<<"$deps" || true)
if [ -n "$bad" ]; then
  echo "otwatch-analysis must stay free of I/O crates, but depends on: $(tr '\n' ' ' <<<"$bad")" >&2
  for c in $bad; do cargo tree -p otwatch-analysis -e normal -i "$c" >&2 || true; done
  exit 1
fi
echo "otwatch-analysis depends on $(wc -l <<<"$deps") crates, none of them I/O: $(tr '\n' ' ' <<<"$deps")"
