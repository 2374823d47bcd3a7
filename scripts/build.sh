#!/usr/bin/env bash
# Configure and build one flavour of triad.
#   scripts/build.sh release   -> build/        (optimised, what the demo runs)
#   scripts/build.sh asan      -> build-asan/   (ASan + UBSan, what the tests run)
set -euo pipefail
cd "$(dirname "$0")/.."

flavour=${1:-release}
case "$flavour" in
  release) dir=build; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan)    dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DTRIAD_SANITIZE=ON) ;;
  *) echo "usage: scripts/build.sh release|asan" >&2; exit 2 ;;
esac

cmake -S . -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
echo "build: $flavour ready in $dir/"
