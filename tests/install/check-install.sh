#!/usr/bin/env bash
# Install a build into a temporary prefix and build tests/install/app.c
# against it with pkg-config only, then run it.  Usage: check-install.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT

cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/triad-queued bin/triadctl bin/drillctl libtriad.a libtriad.so triad.pc include/triad/producer.h; do
  case "$f" in
    */*) found=$([ -e "$prefix/$f" ] && echo yes || true) ;;
    *) found=$(find "$prefix" -name "$f" | head -n 1) ;;
  esac
  [ -n "$found" ] || { echo "install: $f is missing" >&2; exit 1; }
done
pcdir=$(dirname "$(find "$prefix" -name triad.pc | head -n 1)")
export PKG_CONFIG_PATH=$pcdir
libdir=$(pkg-config --variable=libdir triad)
cc -std=c11 -Wall -Wextra -Werror -o "$prefix/app" tests/install/app.c \
  $(pkg-config --cflags --libs triad) -Wl,-rpath,"$libdir"
out=$("$prefix/app" configs/local.conf)
echo "install: app built against the installed libtriad ran: $out"
case "$out" in regions=2*) ;; *) echo "install: unexpected output" >&2; exit 1 ;; esac
