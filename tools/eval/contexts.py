#!/usr/bin/python3
"""Where the lips go wrong, by phone context: /p b m/ closures missed and vowels closed
("false closures"), counted with ak_eval's rules on the renders of a corpus manifest
(tools/corpus/render.py: wav, labels, lang, voice, phone set per line), the motion from
`avatarkit animate` (the product's own pipeline, 80 ms lookahead, facial life off as in
ak_eval).

Rules (ak_eval's, docs/engine.md): lip opening = jawOpen - mouthClose; a phone is closed
when the opening falls below a quarter of the utterance's 95th percentile anywhere in the
central half of the phone; vowels shorter than 30 ms are not scored. The figures are close
to ak_eval's, not equal (ak_eval reads the AKDS audio, padded and resampled by ak_gen_data).

`--change SPEC` alters each clip's audio before it is animated, to find what in a voice's
sound the network keys on (docs/engine.md stage 25): highpass:HZ, lowpass:HZ, low:DB:HZ
(DB of gain below HZ), gain:DB, noise:SNR (white noise at SNR dB, seeded), speed:F (pitch,
formants and tempo together; the labels follow).

Usage: contexts.py CLI MODEL MANIFEST.tsv [--voice ID] [--fps N] [--change SPEC]"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'corpus'))
import align  # noqa: E402

BILABIAL = {'p', 'b', 'm', 'p_h'}
PAUSE = {'_', 'pau', 'sil', None}
# vowel names of the English label sets (MBROLA SAMPA, flite ARPAbet)
VOWELS = set('A { V O aU @ AI E r= EI I i @U OI U u 3: i: u: O: A: '
             'aa ae ah ao aw ax ay eh er ey ih iy ow oy uh uw'.split())
# and the other languages' MBROLA names (espeak-ng's tables: es e/ o/, vz1's stressed a*,
# German and French long and nasal vowels); plain y stays a consonant (ARPAbet's glide)
VOWELS |= set('a e o a: e: o: E: y: 2 2: 9 6 Y OY aI a~ e~ o~ E~ O~ 9~'.split())
VOWELS |= {v + m for v in 'aeiou' for m in '/*'}


def kind(p):
    return 'pause' if p in PAUSE else ('V' if p in VOWELS else 'C')


def tally(opening, fps, segs, miss=None, closed_v=None):
    """Adds one utterance to two Counters of (hits, total) keyed by context: miss[key] for
    /p b m/ (key 'm V_C p': phone, previous and next kind, the next consonant), closed_v[key]
    for vowels (keys 'next to /p b m/', 'next to a pause', 'other'). Returns them."""
    miss = miss if miss is not None else collections.defaultdict(lambda: [0, 0])
    closed_v = closed_v if closed_v is not None else collections.defaultdict(lambda: [0, 0])
    o = np.asarray(opening, dtype=float)
    thr = 0.25 * np.sort(o)[min(len(o) - 1, int(len(o) * 0.95))]
    for i, (a, b, n) in enumerate(segs):
        bil, vow = n in BILABIAL, n in VOWELS and b - a >= 0.03
        if not (bil or vow):
            continue
        q = 0.25 * (b - a)
        i0, i1 = int((a + q) * fps), int(np.ceil((b - q) * fps))
        shut = bool((o[max(0, i0):max(i0 + 1, i1)] < thr).any())
        prev = segs[i - 1][2] if i else None
        nxt = segs[i + 1][2] if i + 1 < len(segs) else None
        if bil:
            key = '%s %s_%s%s' % (n.replace('_h', ''), kind(prev), kind(nxt),
                                  ' ' + nxt if kind(nxt) == 'C' else '')
            miss[key][0] += not shut
            miss[key][1] += 1
        else:
            key = ('next to /p b m/' if prev in BILABIAL or nxt in BILABIAL else
                   'next to a pause' if prev in PAUSE or nxt in PAUSE else 'other')
            closed_v[key][0] += shut
            closed_v[key][1] += 1
    return miss, closed_v


def parse_change(spec):
    """(what, numbers) of a --change SPEC (see the module's help); ValueError if malformed."""
    parts = spec.split(':')
    try:
        what, args = parts[0], [float(v) for v in parts[1:]]
    except ValueError:
        raise ValueError('contexts: bad --change %r (numbers after the colons)' % spec)
    want = {'highpass': 1, 'lowpass': 1, 'low': 2, 'gain': 1, 'noise': 1, 'speed': 1}
    if what not in want or len(args) != want[what]:
        raise ValueError('contexts: bad --change %r (highpass:HZ, lowpass:HZ, low:DB:HZ, '
                         'gain:DB, noise:SNR or speed:F)' % spec)
    if what == 'speed' and args[0] <= 0:
        raise ValueError('contexts: bad --change %r (speed above 0)' % spec)
    return what, args


def change(x, fs, spec):
    """The audio x (float, rate fs) altered as SPEC says (see the module's help); returns
    (audio, time factor: a label at t seconds lies at t * factor afterwards)."""
    what, args = parse_change(spec)
    x = np.asarray(x, dtype=float)
    if what in ('highpass', 'lowpass', 'low'):
        spec_x = np.fft.rfft(x)
        f = np.fft.rfftfreq(len(x), 1.0 / fs)
        if what == 'highpass':
            spec_x[f < args[0]] = 0
        elif what == 'lowpass':
            spec_x[f > args[0]] = 0
        else:
            spec_x[f < args[1]] *= 10 ** (args[0] / 20)
        return np.fft.irfft(spec_x, len(x)), 1.0
    if what == 'gain':
        return x * 10 ** (args[0] / 20), 1.0
    if what == 'noise':
        rms = np.sqrt(np.mean(x ** 2))
        noise = np.random.default_rng(1).normal(0.0, 1.0, len(x))
        return x + noise * rms / 10 ** (args[0] / 20), 1.0
    n = int(len(x) / args[0])
    return np.interp(np.arange(n) * args[0], np.arange(len(x)), x), 1.0 / args[0]


def animate(cli, model, wav, spec=None, fps=None):
    """The lip opening per frame and the frame rate for one WAV (altered by SPEC, see
    change(); its time factor is the third value returned)."""
    x, fs = align.read_wav(wav)
    x, factor = change(x, fs, spec) if spec else (x, 1.0)
    with tempfile.TemporaryDirectory() as t:
        pcm, out = os.path.join(t, 'a.pcm'), os.path.join(t, 'a.json')
        (np.clip(x, -1, 1) * 32767).astype('<i2').tofile(pcm)
        subprocess.run([cli, 'animate', pcm, '--rate', str(fs), '--model', model, '-o', out,
                        '--expressiveness', '0'] + (['--fps', str(fps)] if fps else []),
                       check=True, capture_output=True)
        frames = json.load(open(out))['frames']
    o = [f['blendshapes']['jawOpen'] - f['blendshapes'].get('mouthClose', 0.0) for f in frames]
    return o, len(frames) / (len(x) / fs), factor


def report(title, table, what):
    hit = sum(v[0] for v in table.values())
    tot = sum(v[1] for v in table.values())
    print('%s: %d of %d %s (%.3f)' % (title, hit, tot, what, hit / max(1, tot)))
    for k, (h, n) in sorted(table.items(), key=lambda kv: (-kv[1][0], -kv[1][1])):
        print('  %-22s %4d  %s %3d (%.2f)' % (k, n, what, h, h / n))


def main():
    ap = argparse.ArgumentParser(description='Missed closures and closed vowels by context.')
    ap.add_argument('cli', help='build/bin/avatarkit')
    ap.add_argument('model')
    ap.add_argument('manifest', help='a render manifest (OUT/render/NAME.tsv)')
    ap.add_argument('--voice', help='only this voice id')
    ap.add_argument('--fps', type=int, help='frame rate of the motion (the CLI\'s default: 25)')
    ap.add_argument('--change', metavar='SPEC', help='alter the audio first: highpass:HZ, '
                    'lowpass:HZ, low:DB:HZ, gain:DB, noise:SNR or speed:F')
    a = ap.parse_args()
    if a.change:
        try:
            parse_change(a.change)
        except ValueError as e:
            sys.exit(str(e))
    cli, model, manifest, voice = a.cli, a.model, a.manifest, a.voice
    miss = collections.defaultdict(lambda: [0, 0])
    closed_v = collections.defaultdict(lambda: [0, 0])
    for line in open(manifest):
        wav, lab, _, vid, _ = line.rstrip('\n').split('\t')
        if voice and vid != voice:
            continue
        o, fps, factor = animate(cli, model, wav, a.change, a.fps)
        segs = [(t0 * factor, t1 * factor, n) for t0, t1, n in align.read_lab(lab)]
        tally(o, fps, segs, miss, closed_v)
    report('/p b m/', miss, 'missed')
    report('vowels', closed_v, 'closed')


if __name__ == '__main__':
    main()
