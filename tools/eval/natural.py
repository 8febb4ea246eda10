#!/usr/bin/python3
"""Lip-sync on natural speech: the real clips of ../shared/data/speech (no synthesizer of
ours made them), cut into utterances and transcribed by tools/eval/natural.tsv, labelled by
the corpus aligner (tools/corpus/render.py align: DTW onto MBROLA us1 and flite awb/rms
renderings of the same words, the best-matching reference kept), then joined back into
streams (contiguous cuts with one phone set: the engine hears the clip as a user would send
it, not restarted in every pause) and scored by ak_eval like every other held-out voice,
clean and under reverb, telephone band and 10 dB noise.

The clips carry no phone timing, so the labels are only as good as the aligner (boundary
error measured on synthetic pairs in docs/corpus.md). Two checks say how far to trust them
here: every /p b/ label must hold a level dip (the closure: its quietest 5 ms at least
DIP_DB under the utterance's 95th-percentile level), and the clean set is also scored with
each reference's labels alone (the spread is the labels' share of any figure).

Needs ../shared/data/speech (or --data DIR): without it, it says so and exits 77. The cut
times hold only for the exact audio: a clip whose size or SHA-256 differs is refused.

Usage: natural.py GEN EVAL MODEL OUTDIR [--prev MODEL] [--data DIR] [--spec FILE]
                  [--conds clean,reverb,telephone,noise10] [--seed S]
  GEN, EVAL: build/bin/ak_gen_data, build/bin/ak_eval; MODEL: models/default.akmw"""
import argparse
import hashlib
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tools', 'corpus'))
import align as al  # noqa: E402

DIP_DB = 15.0
CONDS = ('clean', 'reverb', 'telephone', 'noise10')
STOPS = {'p', 'b'}  # closures with a level dip (/m/ keeps its murmur)
PAUSES = {'_', 'pau'}


class SpecError(ValueError):
    pass


def read_spec(path):
    """{clip: (rate, bytes, sha256)}, {clip: (voice id, voice name)}, [(clip, start, end,
    text)] from a natural.tsv; SpecError names the line of any malformed entry."""
    clips, voices, utts = {}, {}, []
    with open(path, encoding='utf-8') as f:
        for no, line in enumerate(f, 1):
            line = line.rstrip('\n')
            if not line.strip() or line.startswith('#'):
                continue
            c = line.split('\t')
            try:
                if c[0] == 'clip' and len(c) == 5:
                    clips[c[1]] = (int(c[2]), int(c[3]), c[4].lower())
                elif c[0] == 'voice' and len(c) == 4:
                    voices[c[3]] = (int(c[1]), c[2])
                elif c[0] == 'utt' and len(c) == 5:
                    a, b = float(c[2]), float(c[3])
                    if not 0 <= a < b or not c[4].strip():
                        raise ValueError('empty or backward cut')
                    utts.append((c[1], a, b, c[4].strip()))
                else:
                    raise ValueError('unknown line')
            except ValueError as e:
                raise SpecError('%s:%d: %s' % (path, no, e)) from None
    for u in utts:
        if u[0] not in clips or u[0] not in voices:
            raise SpecError('%s: utterance of %s, which has no clip or voice line' % (path, u[0]))
    return clips, voices, utts


def load_clip(path, rate, nbytes, sha):
    """The clip's samples (float, -1..1), or ValueError when it is not the audio the cut
    times were written for."""
    with open(path, 'rb') as f:
        raw = f.read()
    if len(raw) != nbytes or hashlib.sha256(raw).hexdigest() != sha:
        raise ValueError('%s: not the expected audio (%d bytes, SHA-256 %s...; the spec wants '
                         '%d bytes, %s...)' % (path, len(raw), hashlib.sha256(raw).hexdigest()[:12],
                                               nbytes, sha[:12]))
    return np.frombuffer(raw, '<i2').astype(np.float64) / 32768.0


def cut(x, rate, start, end):
    """Samples [start, end) s of x; ValueError when the cut leaves the clip."""
    a, b = int(round(start * rate)), int(round(end * rate))
    if b > len(x):
        raise ValueError('cut %.2f-%.2f s past the clip end (%.2f s)' % (start, end, len(x) / rate))
    return x[a:b]


def closure_dips(x, fs, segs, min_db=DIP_DB):
    """(labels holding a dip, /p b/ labels): a /p b/ label holds a dip when its quietest
    5 ms frame lies min_db or more under the utterance's 95th-percentile level."""
    e, p95 = al.level_5ms(x, fs, 0.01)
    ok = n = 0
    for a, b, name in segs:
        if name not in STOPS:
            continue
        i, j = int(a / al.STEP), max(int(a / al.STEP) + 1, int(b / al.STEP))
        n += 1
        ok += bool(len(e[i:j])) and float(e[i:j].min()) <= p95 - min_db
    return ok, n


def label(text, base):
    """Aligns base.wav to every English reference: {ref: (phone set, labels)} and the ref
    picked by render.pick_reference."""
    import render
    got = render.align_all({'lang': 'en', 'name': 'natural'}, text, base)
    if not got:
        raise RuntimeError('%s: no reference could be aligned' % base)
    per = {}
    for segs, _, style, ref in got:
        if style == 'arpabet':
            segs = [(a, b, 'pau' if nm == '_' else nm) for a, b, nm in segs]
        per[ref] = (style, segs)
    return per, got[render.pick_reference([g[1] for g in got])][3]


def streams(cuts):
    """Joins runs of cuts that follow each other in one clip (one ends where the next starts)
    and share a phone set into streams, as the engine would hear the clip: [(clip, start,
    end, phone set, labels in stream time)], neighbouring pauses merged."""
    out = []
    for clip, start, end, style, segs in cuts:
        moved = [(a + start, b + start, nm) for a, b, nm in segs]
        o = out[-1] if out else None
        if o and o[0] == clip and abs(o[2] - start) < 1e-6 and o[3] == style:
            t0 = o[1]
            joined = list(o[4])
            for a, b, nm in moved:
                a, b = a - t0, b - t0
                if joined and nm == joined[-1][2] and nm in PAUSES:
                    joined[-1] = (joined[-1][0], b, nm)
                else:
                    joined.append((a, b, nm))
            out[-1] = (clip, t0, end, style, joined)
        else:
            out.append((clip, start, end, style, segs))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('gen')
    ap.add_argument('eval')
    ap.add_argument('model')
    ap.add_argument('out')
    ap.add_argument('--prev')
    ap.add_argument('--data', default=os.path.join(ROOT, '..', 'shared', 'data', 'speech'))
    ap.add_argument('--spec', default=os.path.join(HERE, 'natural.tsv'))
    ap.add_argument('--conds', default=','.join(CONDS))
    ap.add_argument('--seed', type=int, default=1)
    a = ap.parse_args()
    conds = [c for c in a.conds.split(',') if c]
    for c in conds:
        if c not in CONDS:
            sys.exit('natural.py: unknown condition %r (one of %s)' % (c, ', '.join(CONDS)))
    try:
        clips, voices, utts = read_spec(a.spec)
    except SpecError as e:
        sys.exit('natural.py: %s' % e)
    if not os.path.isdir(a.data):
        print('natural.py: SKIP: %s not found (the natural-speech set is cut from the shared '
              'clips)' % a.data)
        return 77
    os.makedirs(a.out, exist_ok=True)
    audio = {}
    for name, (rate, nbytes, sha) in clips.items():
        try:
            audio[name] = load_clip(os.path.join(a.data, name + '.pcm'), rate, nbytes, sha)
        except (OSError, ValueError) as e:
            sys.exit('natural.py: %s' % e)
    cuts = {}  # 'picked' or a reference -> [(clip, start, end, phone set, labels)]
    dips = [0, 0]
    picks = {}
    for k, (clip, start, end, text) in enumerate(utts):
        rate = clips[clip][0]
        base = os.path.join(a.out, 'cut%03d' % k)
        try:
            x = cut(audio[clip], rate, start, end)
        except ValueError as e:
            sys.exit('natural.py: %s: %s' % (clip, e))
        al.write_wav(base + '.wav', x, rate)
        try:
            per, ref = label(text, base)
        except RuntimeError as e:
            sys.exit('natural.py: %s (%r)' % (e, text))
        os.unlink(base + '.wav')
        picks[ref] = picks.get(ref, 0) + 1
        ok, n = closure_dips(x, rate, per[ref][1])
        dips[0] += ok
        dips[1] += n
        cuts.setdefault('picked', []).append((clip, start, end) + per[ref])
        for r, lab in per.items():
            cuts.setdefault(r.replace(':', '_'), []).append((clip, start, end) + lab)
    manifests = {}
    for r, cl in cuts.items():
        for i, (clip, start, end, style, segs) in enumerate(streams(cl)):
            base = os.path.join(a.out, '%s_%02d' % (r, i))
            al.write_wav(base + '.wav', cut(audio[clip], clips[clip][0], start, end),
                      clips[clip][0])
            with open(base + '.lab', 'w') as f:
                f.writelines('%.5f %.5f %s\n' % sg for sg in segs)
            manifests.setdefault(r, []).append(
                '%s.wav\t%s.lab\t0\t%d\t%s\n' % (base, base, voices[clip][0], style))
    vt = os.path.join(a.out, 'voices.tsv')
    with open(os.path.join(ROOT, 'tools', 'corpus', 'voices.tsv')) as f, open(vt, 'w') as o:
        o.write(f.read())
        for vid, name in sorted(voices.values()):
            o.write('%d\t%s\tnatural\ten\ttest\n' % (vid, name))
    for r, rows in manifests.items():
        with open(os.path.join(a.out, 'natural_%s.tsv' % r), 'w') as f:
            f.writelines(rows)
    print('%d cuts, %.1f s, scored as %d streams; references picked: %s' % (
        len(utts), sum(u[2] - u[1] for u in utts), len(manifests['picked']),
        ', '.join('%s %d' % kv for kv in sorted(picks.items()))))
    print('/p b/ labels holding a closure dip (>= %.0f dB under the 95th percentile): %d of %d'
          % (DIP_DB, dips[0], dips[1]))

    def gen(manifest, out, cond):
        args = [a.gen, '--out', out, '--list', manifest, '--seed', str(a.seed), '--audio']
        args += ['--clean'] if cond == 'clean' else ['--cond', cond]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
        return out

    ev = [a.eval, '--voices', vt, '--model', a.model] + (['--prev', a.prev] if a.prev else [])
    named = ['--cond', '8:reverb', '--cond', '64:telephone', '--cond', '16:noise 10 dB']
    bins = [gen(os.path.join(a.out, 'natural_picked.tsv'),
                os.path.join(a.out, 'natural_%s.bin' % c), c) for c in conds]
    sys.stdout.flush()
    subprocess.run([ev[0]] + bins + ev[1:] + named, check=True)
    print('\n### Clean, labels of one reference each (picked: the labels above)\n')
    for r in sorted(manifests):
        if r == 'picked':
            continue
        b = gen(os.path.join(a.out, 'natural_%s.tsv' % r),
                os.path.join(a.out, 'natural_ref_%s.bin' % r), 'clean')
        res = subprocess.run([ev[0], b] + ev[1:], check=True, capture_output=True, text=True)
        nets = [ln for ln in res.stdout.splitlines() if ln.startswith('### ')]
        rows = [ln for ln in res.stdout.splitlines() if ln.startswith('| test | natural-')]
        per_net = len(rows) // max(1, len(nets))
        for i, net in enumerate(nets):
            for ln in rows[i * per_net:i * per_net + 1]:
                print('%s, %s: %s' % (r, net[4:], ln))
    return 0


if __name__ == '__main__':
    sys.exit(main())
