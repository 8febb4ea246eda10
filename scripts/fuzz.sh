#!/usr/bin/env bash
# Builds the libFuzzer targets with clang + ASan/UBSan and runs each for a bounded time
# (default 20 s, env AK_FUZZ_SECONDS). New crashes land in fuzz/regressions/<target>/ so that
# the replay tests keep checking them. Prints "N passed, M failed" (one per target).
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${AK_FUZZ_SECONDS:-20}
CC=clang cmake -S . -B build-fuzz -DAK_FUZZ=ON -DAK_SANITIZE=ON -DBUILD_TESTING=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo > build-fuzz.log 2>&1 || { cat build-fuzz.log; exit 1; }
cmake --build build-fuzz -j2 --target fuzz_message fuzz_ogg fuzz_stream fuzz_sdk_http fuzz_ws_reasm >> build-fuzz.log 2>&1 \
  || { tail -40 build-fuzz.log; exit 1; }
pass=0 fail=0
for t in fuzz_message fuzz_ogg fuzz_stream fuzz_sdk_http fuzz_ws_reasm; do
  work=$(mktemp -d)
  cp fuzz/corpus/$t/* "$work"/ 2>/dev/null || true
  mkdir -p fuzz/regressions/$t
  echo "fuzz: $t for ${secs}s"
  if ASAN_OPTIONS=detect_leaks=1 ./build-fuzz/bin/$t "$work" -max_total_time="$secs" \
      -max_len=65536 -rss_limit_mb=2048 -artifact_prefix="fuzz/regressions/$t/" \
      -print_final_stats=1 > "build-fuzz/$t.log" 2>&1; then
    pass=$((pass + 1))
    grep -E "stat::number_of_executed_units" "build-fuzz/$t.log" | sed "s/^/  $t /"
  else
    fail=$((fail + 1))
    echo "  $t FAILED: see build-fuzz/$t.log; crash input saved under fuzz/regressions/$t/"
    tail -30 "build-fuzz/$t.log"
  fi
  rm -rf "$work"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
