#!/usr/bin/env bash
# Builds the libFuzzer targets with clang + ASan/UBSan (the libraries under test are compiled
# with -fsanitize=fuzzer-no-link too, so libFuzzer sees their edges, not only the harness's)
# and runs each for a bounded time (default 20 s, env AK_FUZZ_SECONDS; per-input timeout
# AK_FUZZ_TIMEOUT, default 10 s: an input slower than that is a finding). New crashes land in
# fuzz/regressions/<target>/ so that the replay tests keep checking them. Prints each
# target's coverage (edges at start -> at end) and "N passed, M failed".
#
# Targets: fuzz_message (protocol), fuzz_ogg (codec), fuzz_stream (stream pipeline),
# fuzz_sdk_http (C SDK parsers), fuzz_server_http (server HTTP routes: static path checks,
# token body, CORS, rate table, API keys), fuzz_server_token (token verify + single-use set),
# fuzz_server_auth (upgrade verdict), fuzz_ws_reasm (ingress message reassembly fed as
# WebSocket frames); the list is fuzz/CMakeLists.txt's. Pick some with
# AK_FUZZ_TARGETS="a b".
#
# Weekly-style long run (a spare machine, hours per target, corpus kept between runs):
#   AK_FUZZ_SECONDS=3600 AK_FUZZ_JOBS=4 AK_FUZZ_KEEP=$HOME/ak-fuzz-corpus scripts/fuzz.sh
# AK_FUZZ_KEEP keeps each target's grown corpus in that folder (seeded from fuzz/corpus) and
# reuses it next time; AK_FUZZ_JOBS runs that many fuzzing processes per target. Afterwards,
# minimise what is worth committing (keep fuzz/corpus small):
#   build-fuzz/bin/TARGET -merge=1 fuzz/corpus/TARGET "$AK_FUZZ_KEEP/TARGET"
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${AK_FUZZ_SECONDS:-20}
per_input=${AK_FUZZ_TIMEOUT:-10}
jobs=${AK_FUZZ_JOBS:-1}
# Every target fuzz/CMakeLists.txt lists (AK_FUZZ_TARGETS there), unless the env picks some.
all=$(sed -n '/^set(AK_FUZZ_TARGETS/,/)/p' fuzz/CMakeLists.txt | sed 's/set(AK_FUZZ_TARGETS//; s/)//' | tr -s ' \n' ' ')
targets=${AK_FUZZ_TARGETS:-$all}
CC=clang cmake -S . -B build-fuzz -DAK_FUZZ=ON -DAK_SANITIZE=ON -DBUILD_TESTING=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo > build-fuzz.log 2>&1 || { cat build-fuzz.log; exit 1; }
# shellcheck disable=SC2086
cmake --build build-fuzz -j2 --target $targets >> build-fuzz.log 2>&1 \
  || { tail -40 build-fuzz.log; exit 1; }
pass=0 fail=0
for t in $targets; do
  if [ -n "${AK_FUZZ_KEEP:-}" ]; then
    work="$AK_FUZZ_KEEP/$t"
    mkdir -p "$work"
  else
    work=$(mktemp -d)
  fi
  cp -n fuzz/corpus/$t/* "$work"/ 2>/dev/null || true
  mkdir -p fuzz/regressions/$t
  echo "fuzz: $t for ${secs}s"
  extra=()
  [ "$jobs" -gt 1 ] && extra=(-jobs="$jobs" -workers="$jobs")
  if ASAN_OPTIONS=detect_leaks=1 ./build-fuzz/bin/$t "$work" -max_total_time="$secs" \
      -timeout="$per_input" -max_len=65536 -rss_limit_mb=2048 \
      -artifact_prefix="fuzz/regressions/$t/" -print_final_stats=1 "${extra[@]}" \
      > "build-fuzz/$t.log" 2>&1; then
    pass=$((pass + 1))
    start=$(grep -m1 -oE "INITED cov: [0-9]+" "build-fuzz/$t.log" | grep -oE "[0-9]+$")
    end=$(grep -oE "cov: [0-9]+" "build-fuzz/$t.log" | tail -1 | grep -oE "[0-9]+$")
    echo "  $t coverage: ${start:-?} -> ${end:-?} edges"
    grep -E "stat::number_of_executed_units" "build-fuzz/$t.log" | sed "s/^/  $t /"
  else
    fail=$((fail + 1))
    echo "  $t FAILED: see build-fuzz/$t.log; crash input saved under fuzz/regressions/$t/"
    tail -30 "build-fuzz/$t.log"
  fi
  [ -z "${AK_FUZZ_KEEP:-}" ] && rm -rf "$work"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
