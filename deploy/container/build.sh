#!/usr/bin/env bash
# Builds the container images otwatch-manager and otwatch-sensor FROM scratch: each holds its
# binary, the C libraries the binary links (none for a static musl build), the CA bundle and
# /etc/passwd. Run from anywhere, as a user podman or buildah can build with:
#
#   cargo build --release -p otwatch-manager -p otwatch-sensor
#   deploy/container/build.sh                       # localhost/otwatch-{manager,sensor}:VERSION
#   deploy/container/build.sh --bin-dir target/x86_64-unknown-linux-musl/release --tag 0.1.0
#
# Options: --bin-dir DIR (default target/release), --tag TAG (default: the binaries' version),
# --name-prefix PREFIX (default localhost/), --ca-bundle FILE (default the host's).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin_dir="$root/target/release"
tag=""
prefix="localhost/"
ca_bundle=/etc/ssl/certs/ca-certificates.crt
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) bin_dir="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --name-prefix) prefix="$2"; shift 2 ;;
    --ca-bundle) ca_bundle="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 1 ;;
  esac
done
if command -v podman >/dev/null 2>&1; then builder=(podman build)
elif command -v buildah >/dev/null 2>&1; then builder=(buildah build)
else echo "neither podman nor buildah is installed (apt-get install podman)" >&2; exit 1; fi
[ -r "$ca_bundle" ] || { echo "no CA bundle at $ca_bundle (apt-get install ca-certificates, or --ca-bundle FILE)" >&2; exit 1; }

# Copies FILE and every shared library it loads (ldd) under ROOTFS, at the same paths.
stage_binary() {
  local file="$1" rootfs="$2"
  install -D -m 0755 "$file" "$rootfs/usr/local/bin/$(basename "$file")"
  local libs
  libs="$(ldd "$file" 2>/dev/null | grep -o '/[^ ]*' || true)"
  for lib in $libs; do
    install -D -m 0755 "$(readlink -f "$lib")" "$rootfs$lib"
  done
}

for role in manager sensor; do
  bin="$bin_dir/otwatch-$role"
  [ -x "$bin" ] || { echo "$bin is missing: cargo build --release -p otwatch-$role, or pass --bin-dir" >&2; exit 1; }
  version="$("$bin" --version | awk '{print $2}')"
  ctx="$(mktemp -d)"
  trap 'rm -rf "$ctx"' EXIT
  stage_binary "$bin" "$ctx/rootfs"
  install -D -m 0644 "$ca_bundle" "$ctx/rootfs/etc/ssl/certs/ca-certificates.crt"
  install -d -m 0755 "$ctx/rootfs/tmp"
  if [ "$role" = manager ]; then
    printf 'root:x:0:0:root:/:/sbin/nologin\notwatch:x:65532:65532:otwatch manager:/var/lib/otwatch:/sbin/nologin\n' > "$ctx/rootfs/etc/passwd"
    printf 'root:x:0:\notwatch:x:65532:\n' > "$ctx/rootfs/etc/group"
  else
    printf 'root:x:0:0:root:/:/sbin/nologin\n' > "$ctx/rootfs/etc/passwd"
    printf 'root:x:0:\n' > "$ctx/rootfs/etc/group"
    install -D -m 0644 "$root/deploy/sensor.toml" "$ctx/rootfs/etc/otwatch/sensor.toml"
  fi
  chmod 1777 "$ctx/rootfs/tmp"
  image="${prefix}otwatch-$role:${tag:-$version}"
  "${builder[@]}" --quiet --label "org.opencontainers.image.version=$version" \
    -f "$here/Containerfile.$role" -t "$image" "$ctx" >/dev/null
  echo "$image"
  rm -rf "$ctx"
  trap - EXIT
done
