#!/usr/bin/env bash
# Install the Debian packages triad needs to build, test and run, when they
# are missing.  Safe to run again: it installs nothing that is already there.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libzmq3-dev liblz4-dev libpq-dev libconfig-dev libmicrohttpd-dev libjansson-dev
  check libsubunit-dev
  protobuf-c-compiler libprotobuf-c-dev
  postgresql
  clang libclang-rt-14-dev
  strace procps util-linux iproute2
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
