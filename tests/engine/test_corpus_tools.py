#!/usr/bin/python3
"""Corpus tools (tools/corpus, issue 11) end to end, without any synthesizer:
1. ak_gen_data --list: a labelled WAV (made here) goes through every path (train
   augmentation, --clean, --cond clean/reverb/telephone/noise10) and comes out as AKDS v1 that
   tools/train/akds.py reads, with the manifest's lang and voice ids, the documented flags, the
   phones shifted by the added lead (clean) and scaled by the vocal-tract warp (train), sane
   features and targets, and a bilabial closure target where the label says /m/.
   ak_gen_data --retarget: with this build's tables a shard comes out byte-identical, targets
   overwritten in a copy are recomputed from the stored phones, and a truncated shard or an
   output path equal to the input is refused without leaving a file behind.
2. The DTW aligner (tools/corpus/align.py) on a synthetic case: a sequence of distinct sounds
   and a version with other durations (0.6-1.6 x per segment), other loudness and a different
   "speaker" (frequencies shifted); carried-over boundaries land within 20 ms (median), and
   the path cost ranks a reference with the same sounds before one with others in places
   (how render.align chooses among references, with its margin rule).
3. The noisy-pause crop of train.py --gap (tools/train/bg.py noisy_gap): rest targets in the
   pause, a ramp down from the speech pose, the noise under all of it at >= 20 dB SNR; the
   held vowels of train.py --steady (bg.held_vowels): pitch, formants, glides, onset.
4. The aligner's edge fix (align.fix_edges) on a synthetic case, and bg.gap_signal (what
   pick.py --rest-check feeds the CLI) sample for sample against the server test's own
   signal (tests/server/harness.mjs makePcm, run in node; skipped visibly without node).
5. The phone-derived training targets (tools/train/targets.py): the closure decision in the
   middle of each /p b m/, its per-phone weights (--lips-short), the vowel opening floor,
   and the frequency and time masks of train.py --freq-mask / --time-mask (runs, in range).
6. The dictionary-word texts (tools/corpus/words.py): which spellings of the same sounds count
   as agreeing, and the batch that lost a word's pause is skipped (stand-in front ends).
7. tools/eval/contexts.py's counting of missed closures and closed vowels by context on a
   made-up lip-opening curve, and what each --change does to two tones (bad specs refused).
8. tools/eval/natural.py's checks: its spec read strictly, clips that are not the expected
   audio refused, cuts past the end refused, the closure dip check on a synthetic gap, cuts
   joined into streams, and a visible skip (exit 77) without the shared clips.
Usage: test_corpus_tools.py GEN_BIN"""
import os
import struct
import subprocess
import sys
import tempfile
import wave

try:
    import numpy as np
except ImportError:
    print('numpy missing: skipped')
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tools', 'train'))
sys.path.insert(0, os.path.join(ROOT, 'tools', 'corpus'))
import akds  # noqa: E402
import align  # noqa: E402

fails = 0


def check(cond, msg):
    global fails
    if not cond:
        fails += 1
        print('FAIL:', msg)


def write_wav(path, x, fs):
    with wave.open(path, 'wb') as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(fs)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype('<i2').tobytes())


def sound(kind, n, fs, rng, shift=1.0):
    """Distinct synthetic 'phones': vowel-like harmonic sounds with formant-ish peaks, a
    nasal-like low hum, fricative noise, silence."""
    t = np.arange(n) / fs
    if kind == 'sil':
        return 1e-4 * rng.standard_normal(n)
    if kind == 'fric':
        x = rng.standard_normal(n)
        return 0.1 * (x - np.concatenate([[0], x[:-1]]))
    f0 = 120 * shift
    formants = {'a': (750, 1200), 'i': (300, 2300), 'u': (320, 800), 'm': (250, 1000)}[kind]
    x = np.zeros(n)
    for h in range(1, 30):
        f = h * f0
        if f > fs / 2 - 200:
            break
        amp = sum(np.exp(-((f - F * shift) / 120.0) ** 2) for F in formants) + 0.02
        x += amp * np.sin(2 * np.pi * f * t)
    return (0.05 if kind == 'm' else 0.2) * x / max(1e-9, np.abs(x).max()) * 3


def test_gen(gen, tmp):
    fs = 22050
    rng = np.random.default_rng(1)
    segs = [('sil', 0.2), ('a', 0.15), ('m', 0.12), ('a', 0.18), ('fric', 0.1), ('u', 0.15),
            ('sil', 0.2)]
    x, labs, t = [], [], 0.0
    names = {'sil': '_', 'a': 'a', 'm': 'm', 'fric': 's', 'u': 'u:'}
    for k, d in segs:
        n = int(d * fs)
        x.append(sound(k, n, fs, rng))
        labs.append((t, t + n / fs, names[k]))
        t += n / fs
    x = np.concatenate(x)
    write_wav(os.path.join(tmp, 'u.wav'), x, fs)
    with open(os.path.join(tmp, 'u.lab'), 'w') as f:
        for s, e, nm in labs:
            f.write('%.5f %.5f %s\n' % (s, e, nm))
    man = os.path.join(tmp, 'm.tsv')
    with open(man, 'w') as f:
        f.write('%s\t%s\t2\t116\tsampa\n' % (os.path.join(tmp, 'u.wav'), os.path.join(tmp, 'u.lab')))
        f.write('%s\t%s\t2\t116\tnosuchset\n' % (os.path.join(tmp, 'u.wav'), os.path.join(tmp, 'u.lab')))
    runs = {'train': ['--reps', '6'], 'clean': ['--clean', '--audio'],
            'c_clean': ['--cond', 'clean', '--audio'], 'c_reverb': ['--cond', 'reverb', '--audio'],
            'c_tele': ['--cond', 'telephone', '--audio'], 'c_noise': ['--cond', 'noise10', '--audio']}
    want_flags = {'clean': 1, 'c_clean': 1, 'c_reverb': 1 | 8, 'c_tele': 1 | 64, 'c_noise': 1 | 16}
    out = {}
    for name, args in runs.items():
        p = os.path.join(tmp, name + '.bin')
        r = subprocess.run([gen, '--out', p, '--list', man, '--seed', '5'] + args,
                           capture_output=True, text=True)
        check(r.returncode == 0, '%s: exit %d %s' % (name, r.returncode, r.stderr))
        check(' 0 unknown phones' in r.stderr, '%s: no unknown phone (%s)' % (name, r.stderr))
        check('1 skipped' in r.stderr, '%s: bad phone set skipped' % name)
        out[name] = akds.read(p)
    # an unknown phone name is counted and labelled as a sound (never as silence)
    with open(os.path.join(tmp, 'u2.lab'), 'w') as f:
        for s, e, nm in labs:
            f.write('%.5f %.5f %s\n' % (s, e, '!!' if nm == 's' else nm))
    with open(man + '2', 'w') as f:
        f.write('%s\t%s\t2\t116\tsampa\n' % (os.path.join(tmp, 'u.wav'), os.path.join(tmp, 'u2.lab')))
    r = subprocess.run([gen, '--out', os.path.join(tmp, 'unk.bin'), '--list', man + '2', '--seed', '5',
                        '--clean'], capture_output=True, text=True)
    check(r.returncode == 0 and ' 1 unknown phones' in r.stderr, 'unknown phone counted (%s)' % r.stderr)
    ph = akds.read(os.path.join(tmp, 'unk.bin'))[0]['phones']
    check(len(ph) == 5 and int(ph[3, 2]) != 0, 'unknown phone labelled as a sound (%s)' % ph)
    # determinism
    p2 = os.path.join(tmp, 'again.bin')
    subprocess.run([gen, '--out', p2, '--list', man, '--seed', '5', '--reps', '6'],
                   capture_output=True, check=True)
    check(open(p2, 'rb').read() == open(os.path.join(tmp, 'train.bin'), 'rb').read(),
          'same seed, same bytes')
    check(len(out['train']) == 6, 'train: 6 repetitions (%d)' % len(out['train']))
    for name, us in out.items():
        for u in us:
            check(u['lang'] == 2 and u['voice'] == 116, '%s: lang/voice ids kept' % name)
            ph = u['phones']
            check(len(ph) == 5, '%s: 5 phones after the edge pauses are trimmed (%d)' % (name, len(ph)))
            check(np.all(ph[1:, 0] >= ph[:-1, 1] - 1e-5), '%s: phones in order' % name)
            check(u['feat'].shape[0] == u['n_samples'] // 160, '%s: one hop per 10 ms' % name)
            check(np.isfinite(u['feat']).all() and np.isfinite(u['target']).all(), '%s: finite' % name)
            check(u['target'].min() >= -1e-6 and u['target'].max() <= 1.0 + 1e-6,
                  '%s: targets in [0, 1]' % name)
            if name in want_flags:
                check(u['flags'] == want_flags[name], '%s: flags %d want %d' % (name, u['flags'], want_flags[name]))
                check(u['audio'] is not None and len(u['audio']) == u['n_samples'], '%s: audio kept' % name)
            else:
                check(u['flags'] & 256, 'train: noise floor flag set')
                check(u['audio'] is None, 'train: no audio without --audio')
    # clean: phones are the labels shifted by one lead; /m/ (the 2nd phone) is bilabial.
    for name in ('clean', 'c_clean', 'c_reverb', 'c_tele', 'c_noise'):
        u = out[name][0]
        ph = u['phones']
        lead = ph[0, 0] - labs[1][0]
        check(0.1 - 1e-3 <= lead <= 0.7 + 1e-3, '%s: lead %.3f in 0.1-0.7 s' % (name, lead))
        check(abs((ph[1, 1] - ph[1, 0]) - (labs[2][1] - labs[2][0])) < 1e-4, '%s: /m/ duration kept' % name)
        check(int(ph[1, 2]) == 1 and int(ph[1, 3]) == 1, '%s: /m/ is PP, bilabial' % name)
        k = int((ph[1, 0] + ph[1, 1]) / 2 / 0.01)
        jaw, close, press = u['target'][k, 0], u['target'][k, 1], u['target'][k, 7]
        check(close >= 0.8 * jaw and press > 0.2,
              '%s: lips closed at /m/ (jaw %.2f close %.2f press %.2f)' % (name, jaw, close, press))
    # train: warped utterances have every phone scaled by one factor in 1/1.18..1/0.82
    for u in out['train']:
        d = u['phones'][:, 1] - u['phones'][:, 0]
        ref = np.array([labs[i][1] - labs[i][0] for i in range(1, 6)])
        ratio = d / ref
        if u['flags'] & 128:
            check(np.ptp(ratio) < 1e-3 and 1 / 1.18 - 1e-3 <= ratio[0] <= 1 / 0.82 + 1e-3,
                  'train: warp scales durations by one factor (%s)' % ratio)
        else:
            check(np.allclose(ratio, 1, atol=1e-3), 'train: no warp, durations kept')
    check(any(u['flags'] & 128 for u in out['train']), 'some train utterances warped')
    # texts for the languages only MBROLA voices speak (Dutch, Czech); the espeak-ng data
    # still takes turns over its own eight languages (en .. yue), not those
    for lang in ('nl', 'cs'):
        r = subprocess.run([gen, '--print-text', lang, '--n', '3', '--seed', '2'],
                           capture_output=True, text=True)
        lines = r.stdout.splitlines()
        check(r.returncode == 0 and len(lines) == 3 and all(len(l.split()) >= 2 for l in lines),
              '--print-text %s: 3 texts (%r)' % (lang, lines))
    p = os.path.join(tmp, 'es.bin')
    r = subprocess.run([gen, '--out', p, '--n', '10', '--seed', '3', '--split', 'train'],
                       capture_output=True, text=True)
    langs = [u['lang'] for u in akds.read(p)] if r.returncode == 0 else []
    check(langs == [0, 1, 2, 3, 4, 5, 6, 7, 0, 1], 'espeak data: languages 0-7 in turn (%r)' % langs)
    # the split check: voice 116 (MBROLA de7) is a train voice
    import shutil
    st = os.path.join(ROOT, 'tools', 'corpus', 'stats.py')
    for fname, want in (('train_x.bin', 0), ('test_x.bin', 1), ('valid_x.bin', 1)):
        shutil.copy(os.path.join(tmp, 'train.bin'), os.path.join(tmp, fname))
        r = subprocess.run([sys.executable, st, '--check', os.path.join(tmp, fname)],
                           capture_output=True, text=True)
        check(r.returncode == want, 'stats --check %s: exit %d want %d' % (fname, r.returncode, want))
        check('6 utterances' in r.stdout, 'stats counts %s (%s)' % (fname, r.stdout))


def test_retarget(gen, tmp):
    src = os.path.join(tmp, 'train.bin')
    data = open(src, 'rb').read()
    rt = os.path.join(tmp, 'rt.bin')
    r = subprocess.run([gen, '--retarget', src, '--out', rt], capture_output=True, text=True)
    check(r.returncode == 0 and '6 utterances retargeted' in r.stderr,
          'retarget: exit %d %s' % (r.returncode, r.stderr))
    check(open(rt, 'rb').read() == data, 'retarget with unchanged tables: byte-identical shard')
    # Overwrite the first utterance's targets with 0.5 and retarget the copy.
    nmel, nt = struct.unpack_from('<2I', data, 8)
    _, _, _, flags, ns, nh, nph = struct.unpack_from('<7I', data, 16)
    off = 16 + 28 + (4 * ns if flags & 1 else 0) + 16 * nph + 4 * nh * nmel
    bad = bytearray(data)
    bad[off:off + 4 * nh * nt] = np.full(nh * nt, 0.5, '<f4').tobytes()
    p_bad = os.path.join(tmp, 'bad_targets.bin')
    open(p_bad, 'wb').write(bytes(bad))
    r = subprocess.run([gen, '--retarget', p_bad, '--out', rt], capture_output=True, text=True)
    check(r.returncode == 0 and open(rt, 'rb').read() == data,
          'retarget recomputes overwritten targets from the stored phones')
    p_cut = os.path.join(tmp, 'cut.bin')
    open(p_cut, 'wb').write(data[:len(data) - 100])
    out = os.path.join(tmp, 'cut_out.bin')
    r = subprocess.run([gen, '--retarget', p_cut, '--out', out], capture_output=True, text=True)
    check(r.returncode != 0 and 'truncated' in r.stderr and not os.path.exists(out),
          'retarget refuses a truncated shard and leaves no output (%d, %s)' % (
              r.returncode, r.stderr.strip()))
    r = subprocess.run([gen, '--retarget', src, '--out', src], capture_output=True, text=True)
    check(r.returncode == 2 and open(src, 'rb').read() == data,
          'retarget refuses to write over its input')


def test_align():
    rng = np.random.default_rng(3)
    fs = 16000
    kinds = ['sil', 'a', 'm', 'i', 'fric', 'u', 'a', 'm', 'u', 'fric', 'i', 'a', 'sil']
    dur = rng.uniform(0.06, 0.2, len(kinds))
    dur[0] = dur[-1] = 0.3

    def render(durs, shift, gain):
        xs, segs, t = [], [], 0.0
        for k, d in zip(kinds, durs):
            n = int(d * fs)
            xs.append(gain * sound(k, n, fs, rng, shift))
            segs.append((t, t + n / fs, k))
            t += n / fs
        return np.concatenate(xs), segs
    rx, rseg = render(dur, 1.0, 1.0)
    tdur = dur * rng.uniform(0.6, 1.6, len(kinds))
    tx, tseg = render(tdur, 1.15, 0.5)
    out = align.align(rx, fs, rseg, tx, fs)
    # the aligner adds pauses at the ends of the reference: compare the inner boundaries
    names = [s[2] for s in out]
    tb = np.array([s[0] for s in tseg[1:]])
    # out: the added pause, the leading 'sil', the sounds, the trailing 'sil', the added pause
    ob = np.array([s[0] for s in out if s[2] != '_'][1:])
    n = min(len(ob), len(tb))
    err = np.abs(ob[:n] - tb[:n]) * 1000
    check(len([nm for nm in names if nm != '_']) == len(kinds), 'aligner keeps every phone (%s)' % names)
    check(np.median(err) < 20, 'aligner median boundary error %.1f ms < 20 (errors %s)'
          % (np.median(err), np.round(err)))
    # The path cost ranks references (render.align keeps the best match): a reference that
    # says the same sounds matches the target better than one that says others in places.
    _, c_same = align.align(rx, fs, rseg, tx, fs, with_cost=True)
    kinds[2], kinds[4], kinds[8] = 'fric', 'm', 'a'
    ox, oseg = render(dur, 1.0, 1.0)
    _, c_other = align.align(ox, fs, oseg, tx, fs, with_cost=True)
    check(c_same < c_other, 'path cost: same sounds %.3f < other sounds %.3f' % (c_same, c_other))
    import render as rd
    check(rd.pick_reference([5.0, 4.8, 4.0], 0.5) == 2 and rd.pick_reference([5.0, 4.7], 0.5) == 0
          and rd.pick_reference([5.0, 5.2], 0.5) == 0 and rd.pick_reference([5.0], 0.5) == 0,
          'another reference replaces the first only when cheaper by more than the margin')


def test_fix_pauses():
    """A carried-over pause over speech is removed; one over a shorter quiet run shrinks."""
    fs = 16000
    rng = np.random.default_rng(4)
    x = np.concatenate([sound('a', 8000, fs, rng), sound('sil', 2400, fs, rng),
                        sound('i', 8000, fs, rng), sound('u', 8000, fs, rng)])
    # pause 1 labelled 0.45-0.75 (audio quiet 0.5-0.65): shrinks to about 0.5-0.65;
    # pause 2 labelled 1.1-1.3 over voiced audio: removed, split at 1.2.
    segs = [(0.0, 0.45, 'a'), (0.45, 0.75, '_'), (0.75, 1.1, 'i'), (1.1, 1.3, '_'),
            (1.3, 1.65, 'u')]
    out = align.fix_pauses(segs, x, fs)
    names = [s[2] for s in out]
    check(names == ['a', '_', 'i', 'u'], 'pause over speech removed (%s)' % names)
    if len(out) == 4:
        check(abs(out[1][0] - 0.5) < 0.02 and abs(out[1][1] - 0.65) < 0.02,
              'pause shrunk to the quiet run (%.3f-%.3f)' % out[1][:2])
        check(out[0][1] == out[1][0] and out[1][1] == out[2][0] and out[2][1] == out[3][0],
              'labels stay contiguous')
        check(abs(out[2][1] - 1.2) < 1e-6, 'removed pause split between its neighbours')
    check(align.fix_pauses(out, x, fs) == out, 'fix_pauses is idempotent')


def test_fix_edges():
    """Edge pauses over the first or last sound shrink to the sound; a first phone that starts
    long before the sound (or a last one that ends long after it) is trimmed to 100 ms of it;
    nothing moves when the labels already fit."""
    fs = 16000
    rng = np.random.default_rng(6)
    # quiet 0-0.3, 'a' 0.3-0.8, 'i' 0.8-1.2, quiet 1.2-1.6
    x = np.concatenate([sound('sil', 4800, fs, rng), sound('a', 8000, fs, rng),
                        sound('i', 6400, fs, rng), sound('sil', 6400, fs, rng)])
    late = [(0.0, 0.45, '_'), (0.45, 0.8, 'a'), (0.8, 1.05, 'i'), (1.05, 1.6, '_')]
    out = align.fix_edges(late, x, fs)
    check(abs(out[0][1] - 0.3) < 0.015 and out[1][0] == out[0][1],
          'leading pause over the first sound ends at its onset (%.3f)' % out[0][1])
    check(abs(out[-1][0] - 1.2) < 0.015 and out[-2][1] == out[-1][0],
          'trailing pause over the last sound starts at its end (%.3f)' % out[-1][0])
    early = [(0.0, 0.05, '_'), (0.05, 0.8, 'a'), (0.8, 1.5, 'i'), (1.5, 1.6, '_')]
    out2 = align.fix_edges(early, x, fs)
    check(abs(out2[0][1] - 0.2) < 0.015, 'first phone trimmed to 100 ms before the sound (%.3f)'
          % out2[0][1])
    check(abs(out2[-1][0] - 1.3) < 0.015, 'last phone trimmed to 100 ms after the sound (%.3f)'
          % out2[-1][0])
    fit = [(0.0, 0.28, '_'), (0.28, 0.8, 'a'), (0.8, 1.25, 'i'), (1.25, 1.6, '_')]
    check(align.fix_edges(fit, x, fs) == fit, 'labels that fit the sound are kept')
    check(align.fix_edges(out, x, fs) == out and align.fix_edges(out2, x, fs) == out2,
          'fix_edges is idempotent')
    n0, l0 = align.loud_silence(late, x, fs)
    n1, l1 = align.loud_silence(out, x, fs)
    check(l0 > 0 and l1 == 0, 'speech-level frames in scored silence: %d of %d -> %d of %d'
          % (l0, n0, l1, n1))


def test_gap_signal():
    import shutil
    import bg
    node = shutil.which('node')
    if not node:
        print('SKIP: gap_signal vs harness.mjs makePcm: node not found')
        return
    harness = os.path.join(ROOT, 'tests', 'server', 'harness.mjs')
    for rate in (8000, 22050, 48000):
        js = ('import(%r).then((h) => process.stdout.write(Buffer.from(h.makePcm(%d, 1.37))))'
              % ('file://' + harness, rate))
        r = subprocess.run([node, '-e', js], capture_output=True)
        if r.returncode != 0:
            check(False, 'node makePcm ran (%s)' % r.stderr.decode()[-300:])
            return
        ref = np.frombuffer(r.stdout, '<i2')
        mine = bg.gap_signal(rate)
        check(len(ref) == len(mine) and np.array_equal(ref, mine),
              'gap_signal(%d) equals makePcm (%d of %d samples differ)'
              % (rate, int((ref[:len(mine)] != mine[:len(ref)]).sum()), len(ref)))


def autocorr_f0(seg, lo_hz, hi_hz, fs=16000):
    """The pitch of 16 kHz samples seg by the autocorrelation peak between lo_hz and hi_hz."""
    ac = np.correlate(seg, seg, 'full')[len(seg) - 1:]
    lo, hi = fs // hi_hz, fs // lo_hz
    return fs / (lo + int(np.argmax(ac[lo:hi])))


def test_melody(tmp):
    """bg.test_vowel is tests/engine/test_util.h's ak_test_vowel (compiled here; skipped
    visibly without a C compiler), and bg.melody is the prosody test's signal: 0.25 s of
    silence, then 0.25 s vowels at 120 Hz with every sixth at the accent's f0."""
    import shutil
    import bg
    cc = shutil.which('cc') or shutil.which('gcc')
    if not cc:
        print('SKIP: test_vowel vs ak_test_vowel: no C compiler')
    else:
        src = os.path.join(tmp, 'vowel.c')
        with open(src, 'w') as f:
            f.write('#include <stdio.h>\n#include "test_util.h"\nint main(void) {\n'
                    '  static float x[4000];\n  ak_test_vowel(x, 4000, 170.0f, 700.0f, 1200.0f, 0.25f);\n'
                    '  fwrite(x, sizeof *x, 4000, stdout);\n  return 0;\n}\n')
        exe = os.path.join(tmp, 'vowel')
        r = subprocess.run([cc, '-I', os.path.join(ROOT, 'tests', 'engine'), '-I',
                            os.path.join(ROOT, 'include'), '-I', os.path.join(ROOT, 'engine'),
                            src, '-o', exe, '-lm'], capture_output=True, text=True)
        check(r.returncode == 0, 'ak_test_vowel compiled (%s)' % r.stderr[-300:])
        if r.returncode == 0:
            ref = np.frombuffer(subprocess.run([exe], capture_output=True, check=True).stdout, '<f4')
            mine = bg.test_vowel(4000, 170.0, 700.0, 1200.0, 0.25)
            check(len(ref) == 4000 and np.abs(ref - mine).max() < 1e-4,
                  'test_vowel equals ak_test_vowel (max diff %.1e)' % np.abs(ref - mine).max())
    x = bg.melody(170.0)
    check(len(x) == 16000 * 20 and not x[:4000].any(), 'melody: 20 s, silent first 0.25 s')

    got = [round(autocorr_f0(x[4000 * (k + 1) + 400:4000 * (k + 2) - 400], 60, 400))
           for k in range(6)]
    check(all(abs(g - 120) <= 3 for g in got[:5]) and abs(got[5] - 170) <= 4,
          'melody: vowels at 120 Hz, the sixth at the accent (%r)' % got)


def test_held_vowels():
    """bg.held_vowels (train.py --steady): a voice holding vowels has a pitch in the voice range,
    its formants where asked (the 1.8-3 kHz band against 0.5-1 kHz: /i/ over /u/ by more than
    10 dB, also when one voice glides from /u/ into /i/), RMS 1, and no sound before its first
    vowel starts."""
    import bg
    rng = np.random.default_rng(11)
    fs, n = 16000, 24000

    def tilt(x):
        f = np.fft.rfftfreq(len(x), 1.0 / fs)
        p = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
        return 10 * np.log10(p[(f > 1800) & (f < 3000)].sum() / p[(f > 500) & (f < 1000)].sum())

    for seed in range(3):
        r = np.random.default_rng(seed)
        u = bg.held_vowels(r, n, [((300.0, 750.0, 2400.0), 0)])
        i = bg.held_vowels(r, n, [((280.0, 2400.0, 3000.0), 0)])
        check(abs(np.sqrt(np.mean(u ** 2)) - 1) < 1e-6, 'held_vowels: RMS 1')
        check(tilt(i) - tilt(u) > 10, 'held_vowels: /i/ has F2 high, /u/ low (%.1f dB)' % (
            tilt(i) - tilt(u)))
        p = autocorr_f0(u[8000:11200], 55, 450)
        check(55 < p < 450, 'held_vowels: pitch %.0f Hz in the voice range' % p)
    x = bg.held_vowels(rng, n, [((300.0, 750.0, 2400.0), 20), ((280.0, 2400.0, 3000.0), 80)])
    check(np.sqrt(np.mean(x[:16 * 160] ** 2)) < 1e-3, 'held_vowels: silent before the first vowel')
    d = tilt(x[14000:23000]) - tilt(x[3500:12000])
    check(d > 10, 'held_vowels: /u/ then /i/ in one voice (%.1f dB)' % d)
    check(set(bg.VOWEL_FORMANTS) == {10, 11, 12, 13, 14}, 'vowel visemes AA E I O U')
    for v in bg.VOWEL_FORMANTS:
        f1, f2, f3 = bg.random_formants(rng, v)
        check(f1 < f2 < f3, 'random_formants(%d): F1 < F2 < F3' % v)


def test_noisy_gap():
    """bg.noisy_gap (train.py --gap): speech cut inside a phone, a pause with the room noise,
    the start of another utterance; rest targets in the pause, the noise under everything and
    never louder than 20 dB under the speech."""
    import bg
    fs = 16000
    rng = np.random.default_rng(7)
    ncol, voice = 16, 13
    rest = np.zeros(ncol, np.float32)
    rest[4] = 0.05  # a rest pose that is not all zeros

    def utt(n_hops, lead):
        x = 0.1 * sound('a', (n_hops - 1) * bg.HOP + bg.WIN, fs, rng)
        x[:lead * bg.HOP] = 0
        f = bg.logmel(x)
        t = np.tile(rest, (len(f), 1))  # the lead rests
        t[lead:, voice] = 1
        t[lead:, 0] = 0.6  # jaw open while speaking
        t[lead:, 5] = 0.3
        t[lead:, 4] = 0
        return f, t

    fa, ta = utt(200, 12)
    fb, tb = utt(150, 10)
    quiet = np.log(1e-7)
    check(bg.noisy_gap(rng, fa[:8], np.zeros((8, ncol), np.float32), None, None, 100, voice,
                       rest) is None, 'no speech to cut: None')
    lowb = bg.BAND_HZ < 3400
    nb = 0
    for trial in range(40):
        with_b = trial % 2 == 0
        hops = 305
        x, y, mk = bg.noisy_gap(rng, fa, ta, fb if with_b else None, tb if with_b else None,
                                hops, voice, rest)
        check(np.all(mk == 1), 'speech crops: loss everywhere')
        check(x.shape == (hops, fa.shape[1]) and y.shape == (hops, ncol), 'shapes')
        first = int(np.argmax(y[:, voice] > 0.5))  # the crop may start in A's lead
        cut = first + int(np.argmax(y[first:, voice] < 0.5))
        check(cut > first and np.all(y[first:cut, voice] == 1) and np.all(y[:first, 4] == 0.05),
              'speech before the cut (%d-%d)' % (first, cut))
        check(np.all(y[first:cut, 0] == 0.6), 'targets of A up to the cut')
        ramp = y[cut:cut + 3, 0]
        check(np.all(np.diff(np.concatenate([[0.6], ramp, [0.0]])) < 0),
              'jaw ramps down to rest in 3 hops (%s)' % np.round(ramp, 3))
        # the pause: rest targets after the ramp until B's speech (if any)
        nxt = np.nonzero(y[cut:, voice] > 0.5)[0]
        end = cut + (int(nxt[0]) if len(nxt) else hops - cut)
        check(with_b or len(nxt) == 0, 'no speech after the pause without B')
        if with_b and len(nxt):
            gap = end - cut - 10  # B's 10 hops of lead are rest too
            check(25 <= gap <= 150, 'pause of 25-150 hops (%d)' % gap)
            m = min(hops - end, len(tb) - 10)
            check(np.array_equal(y[end:end + m], tb[10:10 + m]), "B's targets after the pause")
        pend = end  # B's lead rests too
        pause = y[cut + 3:pend]
        check(len(pause) >= 32 and np.allclose(pause, np.where(np.arange(ncol) == voice, 0,
                                                                rest)),
              'rest targets in the pause (%d hops)' % len(pause))
        # features: the noise fills the pause, at least 20 dB under A's loud speech
        narrowed = bool(np.all(x[cut + 3:pend, bg.BAND_HZ > 4000] == quiet))
        nb += narrowed
        bands = lowb if narrowed else np.ones_like(lowb)
        band = np.log(np.mean(np.exp(x[cut + 3:pend - 3, bands]), 1))
        loud = np.log(np.mean(np.exp(np.percentile(fa, 95, axis=0))))
        check(np.all(band > quiet + 1), 'noise in the pause, not digital silence (%.1f)'
              % (band.min() - quiet))
        # >= 20 dB under over the whole crop; brown noise's power wanders ~2 dB along it
        check(narrowed or np.median(band) < loud - 1.7 * np.log(10),
              'noise >= 20 dB under the speech (%.1f dB)' % ((loud - np.median(band)) / np.log(10) * 10))
        sp = np.log(np.mean(np.exp(x[first:cut, lowb]), 1))
        check(np.median(sp) > np.median(band) + 1.5 * np.log(10), 'the speech stays loud')
    check(4 <= nb <= 24, 'a share of the crops band-limited under 4 kHz (%d of 40)' % nb)
    # forced loud noise is capped at 20 dB under the speech
    x, y, _ = bg.noisy_gap(rng, fa, ta, None, None, 305, voice, rest, db=(-5.0, -5.0),
                           narrow=0)
    first = int(np.argmax(y[:, voice] > 0.5))
    cut = first + int(np.argmax(y[first:, voice] < 0.5))
    band = np.log(np.mean(np.exp(x[cut + 3:])))
    loud = np.log(np.mean(np.exp(np.percentile(fa, 95, axis=0))))
    check(band < loud - 1.9 * np.log(10), 'a -5 dBFS noise is turned down to 20 dB SNR '
          '(%.1f dB under)' % ((loud - band) / np.log(10) * 10))
    # a tone before the pause: no loss on the tone and the ramp, rest in the pause
    for trial in range(10):
        x, y, mk = bg.noisy_gap(rng, fa, ta, None, None, 305, voice, rest, tone=1.0, narrow=0)
        off = int(np.argmax(mk > 0))
        check(off >= 23 and np.all(mk[off:] == 1), 'no loss on the tone and ramp (%d)' % off)
        check(np.allclose(y[off:], np.where(np.arange(ncol) == voice, 0, rest)),
              'rest after the tone')
        lvl = np.log(np.mean(np.exp(x), 1))
        check(np.median(lvl[:off - 3]) > np.median(lvl[off + 3:]) + 1.9 * np.log(10),
              'the tone is >= 20 dB over the noise after it')
        pk = np.argmax(x[:off - 3], 1)
        check(np.median(bg.BAND_HZ[pk]) < 2500, 'the tone is harmonic and low (%.0f Hz)'
              % np.median(bg.BAND_HZ[pk]))


def test_targets():
    import targets as tg
    pp, aa, sil = tg.VIS_PP, tg.VIS_AA, 0
    # a 100 ms pause, a 30 ms /b/, a 120 ms /a/, a 120 ms /m/, a pause (no hop centre on an edge)
    phones = [(0.0, 0.1, sil, 0), (0.1, 0.13, pp, 0), (0.13, 0.25, aa, 0), (0.25, 0.37, pp, 0),
              (0.37, 0.5, sil, 0)]
    n = 50
    lt = tg.lips_target(phones, n)
    # hop centres (i + 0.5) x 10 ms inside 20 %..80 % of each bilabial
    check(list(np.nonzero(lt)[0]) == [11] + list(range(27, 35)),
          'closure target hops %s' % list(np.nonzero(lt)[0]))
    w = tg.lips_short_weight(phones, n, 6)
    check(w[11] == 6 and np.all(w[27:35] == 1) and np.sum(w == 1) == n - 1,
          'a one-hop /b/ weighs 6 per hop, the eight hops of the /m/ 1 each (%s)' % w[w != 1])
    check(np.array_equal(tg.lips_short_weight(phones, n, 0.5), np.ones(n, np.float32)),
          'weights never under 1')
    w16 = tg.lips_short_weight(phones, n, 16)
    check(w16[11] == 16 and np.isclose(w16[27:35].sum(), 16),
          'K = 16: each bilabial weighs 16 in all (%s, %s)' % (w16[11], w16[27:35].sum()))
    vt = tg.vis_target(phones, n)
    check(vt[5] == sil and vt[11] == pp and vt[18] == aa and vt[30] == pp and vt[40] == sil,
          'viseme of each hop')
    tgt = np.zeros((n, 14), np.float32)
    tgt[13:25, 0] = 0.8  # the jaw opens on the /a/ ...
    tgt[16:19, 1] = 0.6  # ... with a dip in the opening at the start of its central half
    vf = tg.vowel_floor(phones, tgt, 0.7, 0.35)
    op = tgt[:, 0] - tgt[:, 1]
    lo = np.float32(0.35 * np.percentile(op, 95))
    mid = list(range(16, 22))  # centres 0.165..0.215 s in 0.16..0.22
    check(list(np.nonzero(vf)[0]) == mid, 'floor only in the central half of the vowel (%s)'
          % list(np.nonzero(vf)[0]))
    check(np.allclose(vf[mid], np.maximum(0.7 * op[mid], lo)),
          'floor: 0.7 x the target opening, at least 0.35 x its 95th percentile')
    check(np.isclose(vf[16], lo) and np.isclose(vf[20], 0.7 * 0.8),
          'the dip gets the relative floor (%.3f), an open hop 0.7 x its opening (%.3f)'
          % (vf[16], vf[20]))

    # frequency masks (train.py --freq-mask): contiguous runs of 1..width channels, in range,
    # at most count runs, every start and width drawn over many crops
    rng = np.random.default_rng(5)
    starts, widths = set(), set()
    for _ in range(2000):
        m = tg.freq_masks(rng, 32, 2, 4)
        idx = np.nonzero(m)[0]
        check(m.shape == (32,) and m.dtype == bool and 1 <= len(idx) <= 8,
              'freq mask: 1..8 of 32 channels (%d)' % len(idx))
        runs = np.split(idx, np.nonzero(np.diff(idx) > 1)[0] + 1)
        check(1 <= len(runs) <= 2, 'freq mask: at most 2 runs (%d)' % len(runs))
        if len(runs) == 2:
            starts.update(int(r[0]) for r in runs)
            widths.update(len(r) for r in runs)
    check(widths == {1, 2, 3, 4}, 'separate runs are 1..4 channels wide (%s)' % sorted(widths))
    check(min(starts) == 0 and max(starts) >= 28, 'masks reach both ends of the band axis (%d..%d)'
          % (min(starts), max(starts)))
    # time masks (train.py --time-mask): the same runs over the frames of a crop
    lens = set()
    for _ in range(500):
        m = tg.time_masks(rng, 300, 2, 8)
        idx = np.nonzero(m)[0]
        check(m.shape == (300,) and 1 <= len(idx) <= 16, 'time mask: 1..16 of 300 frames (%d)' % len(idx))
        lens.add(len(idx))
    check(min(lens) <= 2 and max(lens) >= 12, 'time masks from 2 frames to near 2 x 8 (%s)' % sorted(lens))

    # voice-bar boost (train.py --bar-boost): a gain over each bilabial's hops, under 600 Hz only
    spans = tg.bilabial_spans(phones)
    check(spans == [(10, 13), (25, 37)], 'bilabial hop spans %s' % spans)
    x = rng.normal(-5, 2, size=(30, 32)).astype(np.float32)
    x0 = x.copy()
    gains = []
    for _ in range(200):
        y = tg.closure_boost(rng, x, spans, 8, 12)  # the crop holds hops 8..37
        d = y - x
        check(np.array_equal(x, x0), 'the input crop is not changed')
        check(np.all(d[:, 8:] == 0), 'channels from 651 Hz up keep their energy')
        on = np.zeros(30, bool)
        on[2:5] = on[17:29] = True  # /b/ hops 10..12, /m/ hops 25..36
        check(np.all(d[~on] == 0), 'hops outside /p b m/ keep their energy')
        gb, gm = d[3, 0], d[18, 0]  # each bilabial's own gain, on a middle hop
        check(0 <= gb <= 12 / 10 * np.log(10) + 1e-6 and 0 <= gm <= 12 / 10 * np.log(10) + 1e-6,
              'gains within 0..12 dB (%.3f %.3f)' % (gb, gm))
        check(np.allclose(d[17:29, 0], [gm / 2] + [gm] * 10 + [gm / 2], atol=1e-5) and
              np.allclose(d[2:5, 0], [gb / 2, gb, gb / 2], atol=1e-5), 'ramped over one hop at either end')
        check(np.allclose(d[18, :8], gm * tg.BAR_SHAPE, atol=1e-5), 'the gain tapers from 466 to 651 Hz')
        gains += [gb, gm]
    check(np.std(gains) > 0.5 and max(gains) > 2.3, 'gains drawn per bilabial (sd %.2f, max %.2f)'
          % (np.std(gains), max(gains)))
    y = tg.closure_boost(rng, x, spans, 30, 12)  # a crop from hop 30: the tail of the /m/
    check(np.all(y[7:] == x[7:]) and np.all(y[:6, 0] > x[:6, 0]) and np.all(y[:7, 8:] == x[:7, 8:]),
          'a bilabial cut by the crop start is boosted where the crop holds it')
    # low-band gain (train.py --low-gain): one gain for the whole crop and what came before it
    pre = x[:5] - 1
    pre0 = pre.copy()
    seen = []
    for _ in range(200):
        y, yp = tg.low_gain(rng, x, pre, 10)
        d, dp = y - x, yp - pre
        check(np.array_equal(x, x0) and np.array_equal(pre, pre0), 'low gain: inputs not changed')
        g = d[0, 0]
        check(np.allclose(d[:, :8], g * tg.BAR_SHAPE, atol=1e-5) and np.all(d[:, 8:] == 0) and
              np.allclose(dp[:, :8], g * tg.BAR_SHAPE, atol=1e-5) and np.all(dp[:, 8:] == 0),
              'low gain: one gain under 651 Hz, the same for the crop and the hops before it')
        check(abs(g) <= np.log(10) + 1e-5, 'low gain within +-10 dB (%.3f)' % g)
        seen.append(g)
    check(min(seen) < -1.5 and max(seen) > 1.5, 'low gain: cuts and boosts (%.2f..%.2f)'
          % (min(seen), max(seen)))


def test_mbrola_fix():
    """MBROLA_FIX: the phones sent to mbrola get the database's names (by context where one
    is given), the labels keep espeak-ng's; a rendering where mbrola replaced a diphone by
    silence is refused. espeak-ng and mbrola are stood in for (CI has no MBROLA voices); with
    the real es2 and jp2 voices installed, both are also rendered for real."""
    import render  # tools/corpus is on sys.path (top of this file)
    import shutil
    import types
    pho = {'es2': 'm 65\ne/ 24 0 110 80 106\n_ 150\n', 'jp2': '; c\nn 60\ni 80 0 120\nn 60\na 90\n',
           'af1-en': 'b 60\n& 90 0 110\n$ 80\nm 50\n_ 100\n', 'nl2-en': 'tj 70\nA 90\n',
           'nl3': 'G 60\nA 90\n'}
    real = render.subprocess.run
    calls = []

    def fake(args, **kw):
        calls.append(args)
        if args[0] == 'espeak-ng':
            return types.SimpleNamespace(stdout=pho[args[2][3:]], returncode=0)
        if args[0] == 'mbrola':
            open(args[-1], 'wb').close()
            warn = b'Warning: e/-_ unknown, replaced with _-_\n' if b'e/' in open(args[-2], 'rb').read() else b''
            return types.SimpleNamespace(stderr=warn, returncode=0)
        raise AssertionError(args)
    render.subprocess.run = fake
    try:
        text, segs = render.mbrola_pho('es2', 'x')
        check(text.split('\n')[1].split()[0] == 'e' and [s[2] for s in segs] == ['m', 'e/', '_'],
              'es2: e/ sent as e, labelled e/ (%r %r)' % (text, segs))
        check(abs(segs[1][0] - 0.065) < 1e-9 and abs(segs[2][1] - 0.239) < 1e-9, 'es2: durations kept')
        text, segs = render.mbrola_pho('jp2', 'x')
        check([l.split()[0] for l in text.split('\n') if l] == ['n1', 'i', 'n', 'a'],
              'jp2: n before i sent as n1, other n kept (%r)' % text)
        # An accent voice (mbrola-af1-en): espeak-ng's mb-af1-en writes the phones, the af1
        # database renders them, and the labels name af1's diphthongs & $ in SAMPA.
        text, segs = render.mbrola_pho('af1-en', 'x')
        check(calls[-1][2] == 'mb-af1-en' and [s[2] for s in segs] == ['b', '@I', '9u', 'm', '_'],
              'af1-en: driven by mb-af1-en, & $ labelled @I 9u (%r)' % segs)
        check(text.split()[2] == '&', 'af1-en: the pho keeps the database symbol (%r)' % text)
        check([s[2] for s in render.mbrola_pho('nl2-en', 'x')[1]] == ['tS', 'A'],
              'nl2-en: tj labelled tS')
        text, segs = render.mbrola_pho('nl3', 'x')
        check(text.split()[0] == 'x' and segs[0][2] == 'G', 'nl3: G sent as x, labelled G (%r)' % text)
        with tempfile.TemporaryDirectory() as tmp:
            import random
            v = {'name': 'mbrola-af1-en'}
            check(render.render_mbrola(v, 'x', os.path.join(tmp, 'u'), random.Random(1)) == 'sampa',
                  'af1-en: rendered')
            db = [c for c in calls if c[0] == 'mbrola'][-1][2]
            check(db == os.path.join(render.MBROLA_DIR, 'af1', 'af1'), 'af1-en: the af1 database (%s)' % db)
            labs = [l.split()[2] for l in open(os.path.join(tmp, 'u.lab'))]
            check(labs == ['b', '@I', '9u', 'm', '_'], 'af1-en: label file (%r)' % labs)
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, 'a.pho')
            open(p, 'w').write('m 65\ne 24\n')
            check(render.run_mbrola('db', p, os.path.join(tmp, 'a.wav')), 'a clean rendering is kept')
            open(p, 'w').write('m 65\ne/ 24\n')
            check(not render.run_mbrola('db', p, os.path.join(tmp, 'b.wav')),
                  'a rendering with a diphone replaced by silence is refused')
        check(all(c[0] != 'mbrola' or '-e' in c for c in calls), 'mbrola runs with -e')
    finally:
        render.subprocess.run = real
    if not (shutil.which('mbrola') and os.path.exists('/usr/share/mbrola/es2/es2')
            and os.path.exists('/usr/share/mbrola/jp2/jp2')):
        print('  skip: real MBROLA es2/jp2 voices not installed')
        return
    with tempfile.TemporaryDirectory() as tmp:
        es = 'Mi padre bebe mucho vino blanco, pero también come pan.'
        late = [(v, 'La lluvia llega, y ella se calla. ' + es) for v in ('mx1', 'mx2', 'vz1')
                if os.path.exists('/usr/share/mbrola/%s/%s' % (v, v))]
        # the people voices (stage people): Canadian French, Dutch and Czech in their languages
        late += [(v, t) for v, t in (('ca1', 'Le petit bateau part de Montr\u00e9al demain matin.'),
                                     ('nl3', 'De grote boom maakt lange takken in de regen.'),
                                     ('cz2', 'Maminka pe\u010de chleba pro babi\u010dku.'))
                 if os.path.exists('/usr/share/mbrola/%s/%s' % (v, v))]
        for v, t in [('es2', es), ('jp2', '\u306b\u307b\u3093\u3054\u3067\u3059\u3001\u308f\u305f\u3057\u306f')] + late:
            text, segs = render.mbrola_pho(v, t)
            p = os.path.join(tmp, v + '.pho')
            open(p, 'w').write(text)
            check(render.run_mbrola('/usr/share/mbrola/%s/%s' % (v, v), p, os.path.join(tmp, v + '.wav')),
                  '%s: rendered without a missing diphone' % v)


def test_label_offsets():
    """align.label_offsets measures a voice whose labels lead its sound (the us3 case) against
    a reference with exact labels, and render.shift_labels moves inner boundaries only."""
    import render  # tools/corpus is on sys.path (top of this file)
    rng = np.random.default_rng(11)
    fs = 16000
    kinds = ['sil', 'a', 'm', 'i', 'fric', 'u', 'a', 'm', 'u', 'fric', 'i', 'a', 'm', 'i', 'sil']
    dur = rng.uniform(0.07, 0.18, len(kinds))
    dur[0] = dur[-1] = 0.2

    def render_(durs, shift, gain, lead):
        xs, segs, t = [], [], 0.0
        for k, d in zip(kinds, durs):
            n = int(d * fs)
            xs.append(gain * sound(k, n, fs, rng, shift))
            segs.append((t, t + n / fs, '_' if k == 'sil' else k))
            t += n / fs
        # labels that lead the sound by `lead` seconds (inner boundaries only)
        return np.concatenate(xs), render.shift_labels(segs, -lead)
    rx, rseg = render_(dur, 1.0, 1.0, 0.0)
    tdur = dur * rng.uniform(0.8, 1.25, len(kinds))
    for lead, lo, hi in ((0.0, -6, 6), (0.02, 14, 26)):
        tx, tseg = render_(tdur, 1.1, 0.6, lead)
        d = np.array(align.label_offsets(rx, fs, rseg, tx, fs, tseg))
        m = float(np.mean(d[np.abs(d) <= 60])) if len(d) else float('nan')
        check(len(d) >= 8 and lo <= m <= hi, 'label offset, labels %d ms early: measured %.1f ms '
              '(want %d..%d, %d boundaries)' % (lead * 1000, m, lo, hi, len(d)))
    segs = [(0.0, 0.1, '_'), (0.1, 0.15, 'm'), (0.15, 0.151, 'a'), (0.151, 0.3, '_')]
    out = render.shift_labels(segs, 0.018)
    check(out[0][0] == 0.0 and out[-1][1] == 0.3, 'shift_labels keeps the edges (%r)' % out)
    check(abs(out[1][0] - 0.118) < 1e-9 and abs(out[1][1] - 0.168) < 1e-9, 'inner boundaries move')
    check(all(b[1] - b[0] >= 0.001 - 1e-12 and b[1] == c[0] for b, c in zip(out, out[1:])),
          'contiguous, no phone under 1 ms (%r)' % out)
    check(render.shift_labels(segs, 0.0) == segs, 'no shift: unchanged')
    check(set(render.MBROLA_LABEL_SHIFT_MS) == {'us3', 'mx1'},
          'us3 and mx1 are calibrated (align.py --offsets, docs/corpus.md)')


def test_words():
    """words.py keeps a word when espeak-ng (us1) and flite spell it alike, up to the
    spellings of one sound both use; espeak-ng and flite are stood in for here."""
    import types
    import words
    same = words.same
    check(same('f V z l z'.split(), 'f @ z @ l z'.split()), 'syllabic l (fizzles) agrees')
    check(same('b V m p'.split(), 'b V m p'.split()), 'identical phones agree')
    check(same('w O 4 r='.split(), 'w O t r='.split()), 'the flap is t or d (water)')
    check(same('v E r i @ b l'.split(), 'v E r i @ b @ l'.split()), 'syllabic l at the end')
    check(not same('s p l A tS t'.split(), 's p l @ tS t'.split()),
          'a stressed vowel against a weak one disagrees (splotched)')
    check(not same('g AI b d'.split(), 'dZ AI b d'.split()), 'another consonant disagrees (gybed)')
    check(not same('h { N @ N z'.split(), 'h { N dZ @ N z'.split()), 'an extra consonant disagrees')
    check(not same('t aU @ l @ N z'.split(), 't aU w E l @ N z'.split()),
          'an extra glide disagrees (towellings)')
    spell = {'alpha': ('{ l f @', 'ae l f ax'), 'bump': ('b V m p', 'b ah m p'),
             'gybed': ('dZ AI b d', 'g ay b d'), 'xterm': ('E k s t r= m', 'eh k s _ t iy')}
    real = words.subprocess.run

    def fake(args, **kw):
        ws = args[args.index('-t') + 1 if args[0] == 'flite' else -1].split(', ')
        if args[0] == 'espeak-ng':
            out = ''.join(''.join('%s 60\n' % p for p in spell[w][0].split()) + '_ 100\n'
                          for w in ws)
            return types.SimpleNamespace(stdout=out, returncode=0)
        out = 'pau ' + ' pau '.join(spell[w][1].replace('_', 'pau') for w in ws) + ' pau'
        return types.SimpleNamespace(stdout=out, returncode=0)
    words.subprocess.run = fake
    batch = words.BATCH
    try:
        words.BATCH = 2
        got = words.agreeing(['alpha', 'gybed', 'xterm', 'bump', 'gybed', 'alpha'], 10)
        check(got == ['alpha', 'alpha'],
              'agreeing words kept in order, a batch with a spelled-out word skipped (%r)' % got)
        check(words.agreeing(['bump', 'alpha', 'bump'], 2) == ['bump', 'alpha'], 'stops at want')
    finally:
        words.subprocess.run = real
        words.BATCH = batch
    import random
    ss = words.sentences(['alpha', 'bump'], 20, random.Random(3))
    check(len(ss) == 20 and all(s[0].isupper() and s.endswith('.') for s in ss),
          'sentences: capitalised, full stop')
    check(all(6 <= len(s.replace(',', '').split()) <= 11 for s in ss), 'sentences: 6-11 words')


def test_contexts():
    """contexts.tally: ak_eval's closure rule per phone, keyed by context."""
    sys.path.insert(0, os.path.join(ROOT, 'tools', 'eval'))
    import contexts
    segs = [(0.0, 0.1, '_'), (0.1, 0.2, 'A'), (0.2, 0.3, 'm'), (0.3, 0.4, 'A'),
            (0.4, 0.5, 'b'), (0.5, 0.6, 's'), (0.6, 0.7, 'A'), (0.7, 0.8, '_'),
            (0.8, 0.82, 'A')]
    o = np.ones(80)
    o[:10] = 0.0          # the pause before speech
    o[20:30] = 0.0        # m: closed through its centre
    o[33:37] = 0.1        # the vowel after it dips under a quarter of the 95th percentile
    o[70:] = 0.0          # the pause after
    miss, vow = contexts.tally(o, 100.0, segs)
    check(dict(miss) == {'m V_V': [0, 1], 'b V_C s': [1, 1]},
          'contexts: m closed, b before s missed (%r)' % dict(miss))
    check(dict(vow) == {'next to /p b m/': [1, 2], 'next to a pause': [0, 1]},
          'contexts: the vowel after m closed, the 20 ms vowel not scored (%r)' % dict(vow))
    # Spanish names (espeak-ng's es tables): e/ and o* are vowels, so this /b/ is V_V
    segs = [(0.0, 0.1, '_'), (0.1, 0.2, 'e/'), (0.2, 0.3, 'b'), (0.3, 0.4, 'o*'), (0.4, 0.8, '_')]
    miss, vow = contexts.tally(o, 100.0, segs)
    check(dict(miss) == {'b V_V': [0, 1]}, 'contexts: Spanish vowels around b (%r)' % dict(miss))
    # --change: what each alteration does to a 100 Hz + 2 kHz pair of tones
    fs = 16000
    t = np.arange(fs) / fs
    x = 0.3 * np.sin(2 * np.pi * 100 * t) + 0.3 * np.sin(2 * np.pi * 2000 * t)

    def amp(y, hz):
        return 2 * abs(np.fft.rfft(y)[int(round(hz * len(y) / fs))]) / len(y)

    y, k = contexts.change(x, fs, 'highpass:300')
    check(amp(y, 100) < 1e-6 and abs(amp(y, 2000) - 0.3) < 1e-6 and k == 1.0,
          'contexts: highpass:300 removes 100 Hz, keeps 2 kHz')
    y, _ = contexts.change(x, fs, 'lowpass:1000')
    check(abs(amp(y, 100) - 0.3) < 1e-6 and amp(y, 2000) < 1e-6, 'contexts: lowpass:1000')
    y, _ = contexts.change(x, fs, 'low:-10:400')
    check(abs(amp(y, 100) - 0.3 * 10 ** -0.5) < 1e-6 and abs(amp(y, 2000) - 0.3) < 1e-6,
          'contexts: low:-10:400 lowers 100 Hz by 10 dB only (%.4f)' % amp(y, 100))
    y, _ = contexts.change(x, fs, 'gain:6')
    check(abs(np.max(np.abs(y)) / np.max(np.abs(x)) - 10 ** 0.3) < 1e-9, 'contexts: gain:6')
    y, _ = contexts.change(x, fs, 'noise:20')
    snr = 10 * np.log10(np.mean(x ** 2) / np.mean((y - x) ** 2))
    check(abs(snr - 20) < 0.2, 'contexts: noise:20 adds noise 20 dB under the signal (%.2f)' % snr)
    y, k = contexts.change(x, fs, 'speed:0.5')
    check(len(y) == 2 * fs and k == 2.0 and abs(amp(y, 50) - 0.3) < 0.01,
          'contexts: speed:0.5 halves pitch and doubles the label times (%d, %r)' % (len(y), k))
    for bad in ('highpass', 'low:3', 'gain:x', 'echo:3', 'speed:0'):
        try:
            contexts.change(x, fs, bad)
            check(False, 'contexts: --change %r refused' % bad)
        except ValueError as e:
            check('bad --change' in str(e), 'contexts: --change %r refused (%s)' % (bad, e))


def test_natural(tmp):
    """tools/eval/natural.py: its spec is read strictly, a clip that is not the audio the
    cut times were written for is refused, a cut past the clip's end is refused, the closure
    dip check tells a /p/ label over a silent gap from one over sound, contiguous cuts join
    into streams, and without the shared clips it says SKIP and exits 77."""
    sys.path.insert(0, os.path.join(ROOT, 'tools', 'eval'))
    import hashlib
    import natural
    good = ('clip\tc1\t16000\t8\t%s\nvoice\t900\tnatural-x\tc1\n'
            'utt\tc1\t0.0\t1.5\tHello there.\n' % ('ab' * 32))
    spec = os.path.join(tmp, 'nat.tsv')
    with open(spec, 'w') as f:
        f.write('# comment\n\n' + good)
    clips, voices, utts = natural.read_spec(spec)
    check(clips == {'c1': (16000, 8, 'ab' * 32)} and voices == {'c1': (900, 'natural-x')}
          and utts == [('c1', 0.0, 1.5, 'Hello there.')], 'natural: spec read (%r)' % utts)
    for bad, why in (('utt\tc1\t2.0\t1.0\tx\n', 'backward cut'),
                     ('utt\tc2\t0.0\t1.0\tx\n', 'clip without a clip line'),
                     ('utt\tc1\t0.0\t1.0\n', 'missing text'),
                     ('clip\tc1\tfast\t8\tab\n', 'rate not a number')):
        with open(spec, 'w') as f:
            f.write(good + bad)
        try:
            natural.read_spec(spec)
            check(False, 'natural: spec with a %s accepted' % why)
        except natural.SpecError as e:
            check(':' in str(e), 'natural: spec error names its place (%s)' % e)
    pcm = os.path.join(tmp, 'c1.pcm')
    raw = struct.pack('<4h', 0, 100, -100, 32767)
    with open(pcm, 'wb') as f:
        f.write(raw)
    sha = hashlib.sha256(raw).hexdigest()
    x = natural.load_clip(pcm, 16000, 8, sha)
    check(len(x) == 4 and abs(x[3] - 32767 / 32768) < 1e-9, 'natural: clip samples')
    for n, h in ((8, 'ab' * 32), (6, sha)):
        try:
            natural.load_clip(pcm, 16000, n, h)
            check(False, 'natural: a clip of other bytes/size accepted')
        except ValueError:
            pass
    fs = 16000
    t = np.arange(fs) / fs
    y = 0.3 * np.sin(2 * np.pi * 200 * t)
    y[6400:7360] = 1e-5 * np.random.default_rng(3).standard_normal(960)  # 60 ms closure
    check(len(natural.cut(y, fs, 0.25, 0.75)) == 8000, 'natural: cut length')
    try:
        natural.cut(y, fs, 0.5, 1.2)
        check(False, 'natural: a cut past the end accepted')
    except ValueError:
        pass
    segs = [(0.0, 0.39, 'aa'), (0.39, 0.47, 'p'), (0.47, 0.7, 'iy'), (0.7, 0.8, 'b'),
            (0.8, 0.9, 'm'), (0.9, 1.0, 'aa')]
    check(natural.closure_dips(y, fs, segs) == (1, 2),
          'natural: /p/ over the gap dips, /b/ over sound does not, /m/ not counted (%r)'
          % (natural.closure_dips(y, fs, segs),))
    cuts = [('c', 0.0, 1.0, 'arpabet', [(0.0, 0.2, 'pau'), (0.2, 0.8, 'aa'), (0.8, 1.0, 'pau')]),
            ('c', 1.0, 2.0, 'arpabet', [(0.0, 0.3, 'pau'), (0.3, 0.9, 'm'), (0.9, 1.0, 'pau')]),
            ('c', 2.0, 2.5, 'sampa', [(0.0, 0.5, 'A')]),
            ('c', 3.0, 3.5, 'sampa', [(0.0, 0.5, 'A')]),
            ('d', 3.5, 4.0, 'sampa', [(0.0, 0.5, 'A')])]
    st = natural.streams(cuts)
    check([(c, a, b, ps) for c, a, b, ps, _ in st] ==
          [('c', 0.0, 2.0, 'arpabet'), ('c', 2.0, 2.5, 'sampa'), ('c', 3.0, 3.5, 'sampa'),
           ('d', 3.5, 4.0, 'sampa')],
          'natural: contiguous cuts of one clip and phone set join, others not (%r)' % st)
    want = [(0.0, 0.2, 'pau'), (0.2, 0.8, 'aa'), (0.8, 1.3, 'pau'), (1.3, 1.9, 'm'),
            (1.9, 2.0, 'pau')]
    check(len(st[0][4]) == len(want) and all(
        g[2] == w[2] and abs(g[0] - w[0]) < 1e-9 and abs(g[1] - w[1]) < 1e-9
        for g, w in zip(st[0][4], want)),
        'natural: joined labels in stream time, the pauses at the join merged (%r)' % st[0][4])
    with open(spec, 'w') as f:
        f.write(good)
    r = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'eval', 'natural.py'),
                        'gen', 'eval', 'model', os.path.join(tmp, 'natout'), '--spec', spec,
                        '--data', os.path.join(tmp, 'no-such-dir')],
                       capture_output=True, text=True)
    check(r.returncode == 77 and 'SKIP' in r.stdout, 'natural: absent data skips visibly (%d %s)'
          % (r.returncode, r.stdout + r.stderr))


def main():
    gen = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        test_gen(gen, tmp)
        test_retarget(gen, tmp)
        test_natural(tmp)
        test_melody(tmp)
    test_align()
    test_fix_pauses()
    test_fix_edges()
    test_noisy_gap()
    test_held_vowels()
    test_gap_signal()
    test_targets()
    test_mbrola_fix()
    test_label_offsets()
    test_words()
    test_contexts()
    if fails:
        print('%d failure(s)' % fails)
        return 1
    print('corpus tools: ok')
    return 0


if __name__ == '__main__':
    sys.exit(main())
