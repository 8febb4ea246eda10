#!/usr/bin/env bash
# The one test command: installs dependencies on a fresh Debian 12, builds everything, runs
# every suite (unit, end-to-end over loopback, ASan/UBSan, bounded fuzzing, web SDK in headless
# Chromium) and ends with one summary line "N passed, M failed".
# Env: AK_SKIP_DEPS=1 skips apt; AK_SKIP_ASAN=1, AK_SKIP_FUZZ=1, AK_SKIP_WEB=1 skip suites;
#      AK_FUZZ_SECONDS (default 20) bounds each fuzz target.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
[ "${AK_SKIP_DEPS:-0}" = 1 ] || bash scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

rm -f build.test.log build-asan.test.log build-fuzz.test.log build-web.test.log
total_pass=0 total_fail=0
declare -a report

count_ctest() { # parses "NN% tests passed, F tests failed out of T"
  local line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$1" | tail -1)
  local f=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
  local t=$(echo "$line" | sed -E 's/.* failed out of ([0-9]+).*/\1/')
  if [ -z "$line" ]; then echo "0 1"; else echo "$((t - f)) $f"; fi
}

run_suite() { # name, log, pass, fail, rc
  local name=$1 log=$2 p=$3 f=$4 rc=$5
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  report+=("$(printf '%-28s %4d passed %4d failed   (log: %s)' "$name" "$p" "$f" "$log")")
}

ctest_suite() { # name, build dir, extra cmake args...
  local name=$1 dir=$2; shift 2
  local log="$dir.test.log"
  echo "== $name: configure + build ($dir)"
  if ! { cmake -S . -B "$dir" -DAK_WERROR=ON "$@" && cmake --build "$dir" -j2; } > "$dir.build.log" 2>&1; then
    tail -40 "$dir.build.log"
    run_suite "$name (build)" "$dir.build.log" 0 1 1
    return
  fi
  echo "== $name: ctest"
  (cd "$dir" && ctest --output-on-failure -j2 --timeout 600) > "$log" 2>&1
  local rc=$?
  grep -E "^ *[0-9]+/[0-9]+ Test|tests passed|Skipped|\*\*\*" "$log" | tail -60
  read -r p f < <(count_ctest "$log")
  run_suite "$name" "$log" "$p" "$f" "$rc"
}

# The web SDK is built first: the backend's browser test serves web/dist.
web_built=0
if [ "${AK_SKIP_WEB:-0}" != 1 ] && [ -f web/package.json ]; then
  echo "== web SDK: npm ci && npm run build"
  if (cd web && npm ci --no-audit --no-fund && npm run build) > build-web.build.log 2>&1; then
    web_built=1
  else
    tail -30 build-web.build.log
    run_suite "web SDK (build)" build-web.build.log 0 1 1
  fi
fi

ctest_suite "C build + ctest" build -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${AK_SKIP_ASAN:-0}" != 1 ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest_suite "ASan+UBSan ctest" build-asan -DCMAKE_BUILD_TYPE=Debug -DAK_SANITIZE=ON
fi
if [ "${AK_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== fuzz (libFuzzer, ${AK_FUZZ_SECONDS:-20}s per target)"
  bash scripts/fuzz.sh > build-fuzz.test.log 2>&1
  rc=$?
  tail -8 build-fuzz.test.log
  line=$(grep -E "^[0-9]+ passed, [0-9]+ failed" build-fuzz.test.log | tail -1)
  run_suite "fuzz" build-fuzz.test.log "${line%% passed*}" "$(echo "$line" | sed -E 's/.*, ([0-9]+) failed.*/\1/')" "$rc"
fi
if [ "$web_built" = 1 ]; then
  echo "== web SDK: npm test"
  (cd web && npm test) > build-web.test.log 2>&1
  rc=$?
  tail -25 build-web.test.log
  p=$(grep -E "^# pass [0-9]+" build-web.test.log | awk '{s+=$3} END {print s+0}')
  f=$(grep -E "^# fail [0-9]+" build-web.test.log | awk '{s+=$3} END {print s+0}')
  run_suite "web SDK" build-web.test.log "$p" "$f" "$rc"
fi

# CI keeps only the tail of this output: name every failure next to the summary.
failures() {
  local s
  for s in C:build ASan:build-asan; do
    [ -f "${s#*:}.test.log" ] &&
      grep -E "^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*(Failed|Timeout|\*\*\*)" "${s#*:}.test.log" | sed "s/^/  ${s%%:*}: /"
  done
  # what the failing tests said (ctest --output-on-failure put it in the log): the first
  # failed checks, so a failure seen only in CI can be diagnosed from its tail
  for s in C:build ASan:build-asan; do
    [ -f "${s#*:}.test.log" ] &&
      grep -E "^ *(FAIL|not ok|\[  FAILED|.*(Assertion|assert).*fail|ERROR:)" "${s#*:}.test.log" | grep -v -E "tests? failed out of" |
        head -12 | cut -c1-700 | sed "s/^/  ${s%%:*} said: /"
  done
  [ -f build-web.test.log ] && grep -E -A8 "^not ok" build-web.test.log | grep -E "^not ok|^  (location|error):" | sed 's/^/  web: /'
}

echo
if [ "$total_fail" -ne 0 ]; then
  echo "== failures"
  failures | head -64
fi
echo "== summary"
for r in "${report[@]}"; do echo "  $r"; done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
