#!/usr/bin/python3
"""English texts of real words on whose pronunciation the aligner's reference voices agree,
for measuring the aligned voices (pico, RHVoice) on labels whose phones they say.

The corpus's texts are pseudo-words, and each synthesizer's letter-to-sound rules spell them
its own way: an aligned voice can say phones its reference never rendered, so its labels are
wrong in places whatever the timing (docs/corpus.md). Dictionary words are spelled alike by
every English front end. The words come from Debian's word list (wamerican,
/usr/share/dict/words); a word is kept when espeak-ng (MBROLA us1's front end) and flite
(awb and rms) give it the same phones, up to the spellings of the same sounds listed in
`norm()` (syllabic l/n/m, the flap, r-coloured schwa, weak vowels).

Usage: words.py N [--seed S] [--words FILE] > texts   (N sentences, one per line)
Deterministic for a given (N, seed, word list, espeak-ng and flite versions)."""
import argparse
import os
import random
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from align import ARPA_TO_US  # noqa: E402  (numpy; the corpus tools' own dependency)

WORDS = '/usr/share/dict/words'
BATCH = 40
# weak vowels both front ends write for an unstressed syllable
WEAK = {'@', 'V', 'I', '@U'}
VOWELS = WEAK | {'A', '{', 'O', 'aU', 'AI', 'E', 'r=', 'EI', 'i', 'OI', 'U', 'u'}


def espeak_words(words):
    """us1's phones of each word (espeak-ng --pho; a comma between words makes a pause)."""
    r = subprocess.run(['espeak-ng', '-v', 'mb-us1', '-q', '--pho', ', '.join(words)],
                       capture_output=True, text=True, check=True)
    ph = [f.split()[0] for f in r.stdout.splitlines() if f.strip() and not f.startswith(';')]
    return _split(ph, '_')


def flite_words(words):
    """flite's phones of each word (rms: CMU lexicon and letter-to-sound), in us1's names."""
    r = subprocess.run(['flite', '-voice', 'rms', '-t', ', '.join(words), '-ps', '-o', 'none'],
                       capture_output=True, text=True, check=True)
    return _split([ARPA_TO_US.get(p, p) for p in r.stdout.split()], '_')


def _split(ph, pause):
    out, cur = [], []
    for p in ph:
        if p == pause:
            if cur:
                out.append(cur)
            cur = []
        else:
            cur.append(p)
    if cur:
        out.append(cur)
    return out


def norm(ph):
    """One spelling per sound: aspirated stops plain, the flap as t or d, r-coloured schwa as
    r=, a weak vowel before a syllabic l/n/m dropped, weak vowels as one."""
    out = []
    for i, p in enumerate(ph):
        p = re.sub(r'_h$', '', p)
        if p in ('4', 't', 'd'):
            p = 'T/D'
        if p == 'r=' or (p == '@' and i + 1 < len(ph) and ph[i + 1] == 'r'):
            p = 'r='
            if out and out[-1] == 'r=':
                continue
        if p == 'r' and out and out[-1] == 'r=':
            continue
        if p in WEAK and 0 < i < len(ph) - 1 and ph[i + 1] in ('l', 'n', 'm') \
                and ph[i - 1] not in VOWELS and (i + 2 == len(ph) or ph[i + 2] not in VOWELS):
            continue
        out.append('@' if p in WEAK else p)
    return out


def same(a, b):
    return norm(a) == norm(b)


def agreeing(cands, want, stats=None):
    """The first `want` words of cands that both front ends spell alike; stats (a dict), if
    given, gets the number of words compared."""
    keep = []
    for i in range(0, len(cands), BATCH):
        if stats is not None:
            stats['tried'] = stats.get('tried', 0) + len(cands[i:i + BATCH])
        ws = cands[i:i + BATCH]
        e, f = espeak_words(ws), flite_words(ws)
        if len(e) != len(ws) or len(f) != len(ws):  # a word that made its own pause
            continue
        keep += [w for w, a, b in zip(ws, e, f) if same(a, b)]
        if len(keep) >= want:
            break
    return keep[:want]


def sentences(words, n, rnd):
    out = []
    for _ in range(n):
        k = rnd.randint(6, 11)
        ws = [rnd.choice(words) for _ in range(k)]
        s = ''
        for j, w in enumerate(ws):
            s += w
            if j + 1 < k:
                s += ', ' if j >= 2 and j + 3 < k and rnd.random() < 0.15 else ' '
        out.append(s[0].upper() + s[1:] + '.')
    return out


def main():
    ap = argparse.ArgumentParser(description='Sentences of dictionary words both reference '
                                 'front ends spell alike, one per line.')
    ap.add_argument('n', type=int, help='sentences')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--words', default=WORDS, help='word list (default %(default)s)')
    a = ap.parse_args()
    n, seed, path = a.n, a.seed, a.words
    with open(path, encoding='utf-8', errors='replace') as f:
        cands = sorted({w.strip() for w in f if re.fullmatch(r'[a-z]{3,10}', w.strip())})
    rnd = random.Random(seed)
    rnd.shuffle(cands)
    st = {}
    words = agreeing(cands, 400, st)
    if len(words) < 50:
        sys.exit('words.py: only %d words agree' % len(words))
    print('words.py: %d of %d words compared agree' % (len(words), st['tried']), file=sys.stderr)
    for s in sentences(words, n, rnd):
        print(s)


if __name__ == '__main__':
    main()
