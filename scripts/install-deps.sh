#!/usr/bin/env bash
# Installs every system package the build, the tests and the demo need on a fresh Debian 12.
# Idempotent: skips apt when everything is already present. Run as root (or with sudo).
# AVATARKIT_DEPS=server: the Motion Server image's set. AVATARKIT_VOICES=0: no natural TTS
# voices (no non-free/contrib). Testing: AVATARKIT_DEPS_DRY_RUN=1 treats every package as
# missing and prints the apt commands instead of running them; AVATARKIT_APT_DIR (default
# /etc/apt) is where sources are read and written.
set -euo pipefail
APT_DIR=${AVATARKIT_APT_DIR:-/etc/apt}
DRY=${AVATARKIT_DEPS_DRY_RUN:-0}

PKGS=(
  build-essential cmake pkg-config clang clang-format python3 git
  libwebsockets-dev libprotobuf-c-dev protobuf-c-compiler
  libopus-dev libogg-dev libopusenc-dev libopusfile-dev libspeexdsp-dev
  libssl-dev libcjson-dev libcurl4-openssl-dev
  libespeak-ng-dev espeak-ng-data espeak-ng
  libpocketsphinx-dev pocketsphinx-en-us libsphinxbase-dev
  libcmocka-dev libclang-rt-14-dev
  libhiredis-dev libev-dev redis-server haproxy python3-yaml python3-numpy
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
# Natural local voices of the reference backend (its default TTS; docs/backend.md "Voices"):
# RHVoice (English) and SVOX Pico (en-GB, de, es, fr, it) with their C libraries, pico2wave,
# and MBROLA us1/us2 for espeak-ng (test and benchmark audio). They live in Debian's
# non-free (and contrib: mbrola) components, enabled below only when needed. Not in the
# server image: the Motion Server does not speak.
VOICE_PKGS=(
  librhvoice-dev rhvoice-english
  libttspico-dev libttspico-data libttspico-utils
  mbrola mbrola-us1 mbrola-us2
)
if [ "${AVATARKIT_DEPS:-all}" != server ] && [ "${AVATARKIT_VOICES:-1}" != 0 ]; then
  PKGS+=("${VOICE_PKGS[@]}")
fi
# Optional extras for the offline training tools (not needed by build or tests).
if [ "${AVATARKIT_TRAINING:-0}" = 1 ]; then
  PKGS+=(python3-torch python3-numpy libopenblas0-pthread)
  # the synthesizers of the multi-voice corpus (tools/corpus/make-corpus.sh, docs/corpus.md)
  PKGS+=(flite flite1-dev open-jtalk open-jtalk-mecab-naist-jdic hts-voice-nitech-jp-atr503-m001
    rhvoice rhvoice-english libttspico-utils mbrola wamerican)
  for v in us1 us2 us3 en1 de1 de2 de3 de4 de5 de6 de7 de8 fr1 fr2 fr3 fr4 fr5 fr6 fr7 \
    es1 es2 es3 es4 mx1 mx2 vz1 it1 it2 it3 it4 jp1 jp2 jp3 cn1 \
    af1 gr2 hu1 nl2 pl1 ro1 sw1 sw2 ca1 ca2 nl3 cz2; do
    PKGS+=("mbrola-$v")
  done
fi

missing=()
for p in "${PKGS[@]}"; do
  if [ "$DRY" = 1 ]; then missing+=("$p"); continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || [ "$DRY" = 1 ] || SUDO=sudo

# Debian components the missing packages come from (mbrola: contrib; its voices, RHVoice and
# Pico: non-free). An existing entry for the component (one-line sources.list or deb822
# .sources) is kept; otherwise one deb822 file adds exactly the components still missing,
# on the mirror and suite of the system's main entry.
component_of() {
  case "$1" in
    mbrola | hts-voice-nitech-jp-atr503-m001) echo contrib ;;
    rhvoice | librhvoice-dev | rhvoice-english | libttspico-dev | libttspico-data | libttspico-utils | mbrola-*)
      echo non-free ;;
  esac
}
component_enabled() { # component: listed in any apt source (either format)?
  local c=$1 f
  for f in "$APT_DIR"/sources.list "$APT_DIR"/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    grep -Eq "^[[:space:]]*deb[[:space:]].*[[:space:]]$c([[:space:]]|$)" "$f" && return 0
  done
  for f in "$APT_DIR"/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    grep -Eiq "^[[:space:]]*Components:.*[[:space:]]$c([[:space:]]|$)" "$f" && return 0
  done
  return 1
}
need_components=()
for p in "${missing[@]}"; do
  c=$(component_of "$p")
  [ -n "$c" ] || continue
  case " ${need_components[*]} " in *" $c "*) ;; *) need_components+=("$c") ;; esac
done
add_components=()
for c in "${need_components[@]}"; do
  if component_enabled "$c"; then
    echo "install-deps: Debian component '$c' already enabled (needed by the natural TTS voices)"
  else
    add_components+=("$c")
  fi
done
if [ ${#add_components[@]} -gt 0 ]; then
  . /etc/os-release
  suite=${VERSION_CODENAME:-bookworm}
  mirror=$(grep -Ehos "^[[:space:]]*URIs:[[:space:]]*[^[:space:]]+" "$APT_DIR"/sources.list.d/*.sources 2>/dev/null |
    awk '{print $2}' | grep -v security | head -1 || true)
  [ -n "$mirror" ] || mirror=$(grep -Ehos "^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[^[:space:]]+" \
    "$APT_DIR"/sources.list "$APT_DIR"/sources.list.d/*.list 2>/dev/null | awk '{print $NF}' | grep -v security | head -1 || true)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
  f=$APT_DIR/sources.list.d/avatarkit-voices.sources
  echo "install-deps: enabling Debian component(s) ${add_components[*]} for the natural TTS voices" \
    "(RHVoice, SVOX Pico, MBROLA: non-free/contrib licences) in $f ($mirror $suite)."
  echo "install-deps: set AVATARKIT_VOICES=0 to skip them; the backend then speaks with espeak-ng."
  printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: %s\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" "$suite" "$suite" "${add_components[*]}" | $SUDO tee "$f" >/dev/null
fi

echo "install-deps: installing ${missing[*]}"
if [ "$DRY" = 1 ]; then
  echo "install-deps: dry run: apt-get update; apt-get install ${missing[*]}"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
