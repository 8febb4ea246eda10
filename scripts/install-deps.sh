#!/usr/bin/env bash
# Installs every system package the build, the tests and the demo need on a fresh Debian 12.
# Idempotent: skips apt when everything is already present. Run as root (or with sudo).
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang clang-format python3 git
  libwebsockets-dev libprotobuf-c-dev protobuf-c-compiler
  libopus-dev libogg-dev libopusenc-dev libopusfile-dev libspeexdsp-dev
  libssl-dev libcjson-dev libcurl4-openssl-dev
  libespeak-ng-dev espeak-ng-data espeak-ng
  libpocketsphinx-dev pocketsphinx-en-us libsphinxbase-dev
  libcmocka-dev libclang-rt-14-dev
  libhiredis-dev libev-dev redis-server haproxy python3-yaml
  chromium
)
# AVATARKIT_DEPS=server: only what building the Motion Server needs (the container image,
# deploy/Dockerfile): no test, browser or training tools.
if [ "${AVATARKIT_DEPS:-all}" = server ]; then
  PKGS=(
    build-essential cmake pkg-config python3
    libwebsockets-dev libprotobuf-c-dev protobuf-c-compiler
    libopus-dev libogg-dev libopusenc-dev libopusfile-dev libspeexdsp-dev libssl-dev
    libcjson-dev libcurl4-openssl-dev
    libhiredis-dev libev-dev
  )
fi
# Node.js 18+ and npm for the web SDK: use the one on PATH if present, else Debian's.
if [ "${AVATARKIT_DEPS:-all}" != server ] && { ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; }; then
  PKGS+=(nodejs npm)
fi
# Optional extras for the offline training tools (not needed by build or tests).
if [ "${AVATARKIT_TRAINING:-0}" = 1 ]; then
  PKGS+=(python3-torch python3-numpy libopenblas0-pthread)
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
