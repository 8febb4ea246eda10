#!/usr/bin/env bash
# The data generator and the evaluation tool end to end, on a small augmented eval set made
# here by espeak-ng (no shared data): the trained engine beats the loudness envelope on every
# metric it is judged by, grouping by condition changes no total, bad input is refused.
# The unseen-voice report (--voices) groups by voice, family, language and condition.
# Usage: test_eval_tool.sh GEN_BIN EVAL_BIN
set -u
gen=$1 eval=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pass=0 fail=0
check() { # description, condition (evaluated)
  if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi
}
field() { # file, row prefix, column (1-based after the leading |)
  grep -F "$2" "$1" | head -1 | awk -F'|' -v c="$(($3 + 1))" '{gsub(/ /, "", $c); print $c}'
}
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }

"$gen" --out "$dir/eval.bin" --n 16 --seed 4711 --split eval --audio > "$dir/gen.log" 2>&1
check "generator writes 16 utterances" 'grep -q "^16 utterances" "$dir/gen.log"'
"$eval" "$dir/eval.bin" --markdown > "$dir/lang.md" 2>&1; rc=$?
check "eval by language exits 0 (exit $rc)" '[ $rc -eq 0 ]'
"$eval" "$dir/eval.bin" --markdown --by-condition > "$dir/cond.md" 2>&1; rc=$?
check "eval by condition exits 0 (exit $rc)" '[ $rc -eq 0 ]'

nn='| all | model (lookahead 80 ms) |'
loud='| all | loudness envelope |'
r_nn=$(field "$dir/lang.md" "$nn" 3) r_loud=$(field "$dir/lang.md" "$loud" 3)
c_nn=$(field "$dir/lang.md" "$nn" 7) c_loud=$(field "$dir/lang.md" "$loud" 7)
o_nn=$(field "$dir/lang.md" "$nn" 9) o_loud=$(field "$dir/lang.md" "$loud" 9)
check "opening r: model $r_nn > loudness $r_loud + 0.1" 'gt "$r_nn" "$(awk -v x="$r_loud" "BEGIN{print x+0.1}")"'
check "closure: model $c_nn > loudness $c_loud" 'gt "$c_nn" "$c_loud"'
check "rounding: model $o_nn > loudness $o_loud" 'gt "$o_nn" "$o_loud"'
check "model opening r $r_nn above 0.8 on augmented audio" 'gt "$r_nn" 0.8'

# Each language has 2 utterances, each condition row has 4 systems; the totals agree.
check "8 languages x 4 systems + all" '[ "$(grep -cE "^\| [a-z]+ \| (model|DSP|loudness)" "$dir/lang.md")" -eq 36 ]'
check "6 conditions x 4 systems + all" '[ "$(grep -cE "^\| [a-z-]+ \| (model|DSP|loudness)" "$dir/cond.md")" -eq 28 ]'
check "the all rows do not depend on the grouping" \
  'diff <(grep "^| all |" "$dir/lang.md") <(grep "^| all |" "$dir/cond.md") > /dev/null'

# Unseen-voice report (--voices): a clean set and the augmented one together, the default
# model as both "new" and "previous" (so their cells agree), grouped by the voice table. The
# generator's held-out espeak variants have ids 0-5 (50-55 in the multi-voice generator).
"$gen" --out "$dir/clean.bin" --n 8 --seed 4712 --split eval --audio --clean > /dev/null 2>&1
{
  printf 'id\tname\tfamily\tlang\tsplit\n'
  for i in 0 1 2 3 4 5; do printf '%d\tespeak-v%d\tespeak\tmulti\tvalid\n' "$i" "$i"; done
  for i in 50 51 52 53 54 55; do printf '%d\tespeak-w%d\tespeak\tmulti\tvalid\n' "$i" "$i"; done
} > "$dir/voices.tsv"
"$eval" "$dir/clean.bin" "$dir/eval.bin" --voices "$dir/voices.tsv" --prev /dev/null \
  > /dev/null 2>&1; rc=$?
check "unreadable previous model refused (exit $rc)" '[ $rc -eq 1 ]'
"$eval" "$dir/clean.bin" "$dir/eval.bin" --voices "$dir/voices.tsv" > "$dir/plain.md" 2>&1
"$eval" "$dir/clean.bin" --voices "$dir/voices.tsv" --model /dev/null > /dev/null 2>&1; rc=$?
check "unreadable model refused (exit $rc)" '[ $rc -eq 1 ]'
"$eval" "$dir/clean.bin" "$dir/eval.bin" --voices "$dir/voices.tsv" --prev "$dir/model.akmw" \
  > /dev/null 2>&1; rc=$?
check "missing previous model refused (exit $rc)" '[ $rc -eq 1 ]'
vrow='| valid | (all) |'
check "24 utterances scored" 'grep -q "^Unseen-voice evaluation: 24 utterances (0 outside" "$dir/plain.md"'
check "by voice, family, language, condition tables (both networks)" \
  '[ "$(grep -c "^#### By voice (clean)" "$dir/plain.md")" -eq 2 ] &&
   [ "$(grep -c "^#### By condition (all voices" "$dir/plain.md")" -eq 2 ]'
check "every clean utterance counted once in the (all) row" \
  '[ "$(field "$dir/plain.md" "$vrow" 3)" -eq 8 ]'
cl=$(field "$dir/plain.md" "$vrow" 5) r=$(field "$dir/plain.md" "$vrow" 7)
check "closure model > envelope on espeak ($cl)" 'gt "${cl%%/*}" "${cl##*/}"'
check "opening r model > envelope + 0.1 ($r)" \
  'gt "${r%%/*}" "$(awk -v x="${r##*/}" "BEGIN{print x+0.1}")"'
"$eval" "$dir/clean.bin" --voices "$dir/voices.tsv" --split test > "$dir/test.md" 2>&1; rc=$?
check "--split test leaves no valid voice (exit $rc)" \
  '[ $rc -eq 0 ] && grep -q "0 utterances (8 outside" "$dir/test.md" && ! grep -q "^| valid" "$dir/test.md"'
"$eval" "$dir/clean.bin" --voices "$dir/missing.tsv" > /dev/null 2>&1; rc=$?
check "missing voices file refused (exit $rc)" '[ $rc -eq 1 ]'
"$eval" "$dir/clean.bin" --voices "$dir/voices.tsv" --cond 0:x > /dev/null 2>&1; rc=$?
check "--cond 0:x refused (exit $rc)" '[ $rc -eq 2 ]'
"$eval" "$dir/eval.bin" --voices "$dir/voices.tsv" --cond 16:noise > "$dir/cond.md" 2>&1
check "--cond names the condition rows: noise and other only" \
  'grep -q "^| valid | noise |" "$dir/cond.md" && ! grep -q "^| valid | reverb |" "$dir/cond.md"'

# Refusals: a file that is not an eval set, a missing file, a bad flag value.
printf 'not an eval set' > "$dir/bad.bin"
"$eval" "$dir/bad.bin" > "$dir/bad.log" 2>&1; rc=$?
check "garbage file refused (exit $rc): $(cat "$dir/bad.log")" '[ $rc -eq 1 ] && grep -q "cannot read" "$dir/bad.log"'
"$eval" "$dir/missing.bin" > /dev/null 2>&1; rc=$?
check "missing file refused (exit $rc)" '[ $rc -eq 1 ]'
"$eval" "$dir/eval.bin" --fps 0 > /dev/null 2>&1; rc=$?
check "--fps 0 refused (exit $rc)" '[ $rc -eq 2 ]'
"$gen" --n 4 > /dev/null 2>&1; rc=$?
check "generator without --out refused (exit $rc)" '[ $rc -ne 0 ]'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
