#!/usr/bin/python3
"""Forced alignment by dynamic time warping for synthesizers without timing output (SVOX
pico, RHVoice): the voice's audio is warped onto a reference rendering of the same text with
exact phone labels (an MBROLA voice driven by espeak-ng; for English also flite awb and rms,
the best-matching reference per utterance kept, render.ALIGN_REFS), and the reference's
phone boundaries are carried over along the warping path.

Features: 13 mel cepstra (c1..c13) and their deltas per 10 ms hop (25 ms window, 16 kHz),
each utterance normalised to zero mean and unit variance per coefficient (removes most of
the speaker and channel difference), and log energy weighted 2. DTW: Euclidean distance,
steps (1,1) (1,2) (2,1) (1,3) (3,1), inside a band of +-max(25 frames, 20 %) around the
length-scaled diagonal.

Also usable from the command line to measure the aligner against exact labels:
  align.py --measure N   (renders N MBROLA utterance pairs per language and reports the
                          boundary error, see docs/corpus.md)
  align.py --measure-refs N GEN VOICE... [--warps W,W...]  (the same on MBROLA or flite
                          voices aligned as if unlabelled, per reference and with the
                          per-utterance pick)
  align.py --offsets N   (the signed offset of each MBROLA voice's exact labels against its
                          language's reference voice, see docs/corpus.md)"""
import struct
import sys
import wave

import numpy as np

HOP = 160
WIN = 400
FS = 16000


def read_wav(path):
    with wave.open(path, 'rb') as w:
        fs, n, ch, sw = w.getframerate(), w.getnframes(), w.getnchannels(), w.getsampwidth()
        raw = w.readframes(n)
    if sw != 2:
        raise ValueError('%s: 16-bit PCM expected' % path)
    x = np.frombuffer(raw, '<i2').astype(np.float64) / 32768.0
    if ch > 1:
        x = x.reshape(-1, ch).mean(axis=1)
    return x, fs


def write_wav(path, x, fs):
    with wave.open(path, 'wb') as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(fs)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype('<i2').tobytes())


def resample(x, fs, to=FS):
    """FFT resampling (band-limited), enough for alignment features."""
    if fs == to:
        return x
    n = len(x)
    m = int(round(n * to / fs))
    X = np.fft.rfft(x)
    k = m // 2 + 1
    Y = np.zeros(k, complex)
    c = min(k, len(X))
    Y[:c] = X[:c]
    return np.fft.irfft(Y, m) * (m / n)


_FB = None


def melbank(nfft=512, nmel=40, fs=FS):
    global _FB
    if _FB is not None:
        return _FB
    mel = lambda f: 2595 * np.log10(1 + f / 700.0)
    imel = lambda m: 700 * (10 ** (m / 2595.0) - 1)
    pts = imel(np.linspace(mel(60), mel(7600), nmel + 2))
    bins = np.fft.rfftfreq(nfft, 1.0 / fs)
    fb = np.zeros((nmel, len(bins)))
    for i in range(nmel):
        a, b, c = pts[i], pts[i + 1], pts[i + 2]
        fb[i] = np.clip(np.minimum((bins - a) / (b - a), (c - bins) / (c - b)), 0, None)
    _FB = fb
    return fb


def features(x):
    """(frames, 26) normalised mel cepstra + deltas; frame k covers [k*HOP, k*HOP+WIN)."""
    x = np.append(x[:1], x[1:] - 0.97 * x[:-1])
    n = max(1, (len(x) - WIN) // HOP + 1)
    x = np.pad(x, (0, max(0, (n - 1) * HOP + WIN - len(x))))
    idx = np.arange(WIN)[None, :] + HOP * np.arange(n)[:, None]
    fr = x[idx] * np.hamming(WIN)
    p = np.abs(np.fft.rfft(fr, 512)) ** 2
    lm = np.log(p @ melbank().T + 1e-8)
    k = np.arange(40)
    dct = np.cos(np.pi / 40 * (k[None, :] + 0.5) * np.arange(1, 14)[:, None])
    c = lm @ dct.T
    d = np.zeros_like(c)
    d[1:-1] = (c[2:] - c[:-2]) / 2
    f = np.hstack([c, d])
    f = (f - f.mean(0)) / (f.std(0) + 1e-6)
    # log energy (normalised) weighted up: silence vs speech is the most reliable cue
    e = lm.max(1)
    e = (e - e.mean()) / (e.std() + 1e-6)
    return np.hstack([f, 2.0 * e[:, None]])


def dtw(a, b, band=None):
    """Returns the warping path as (i, j) arrays, a: (n, d), b: (m, d). Steps (1,1), (1,2),
    (2,1), (1,3), (3,1): the local tempo ratio stays within 1/3..3, so the path cannot stall
    on one frame across a whole phone (which a free horizontal/vertical step allows)."""
    n, m = len(a), len(b)
    if band is None:
        band = max(25, int(0.2 * max(n, m)))
    cost = np.full((n, m), 1e9)
    for i in range(n):
        c = i * (m - 1) / max(1, n - 1)
        lo, hi = max(0, int(c) - band), min(m, int(c) + band + 1)
        cost[i, lo:hi] = np.sqrt(((b[lo:hi] - a[i]) ** 2).sum(1))
    INF = 1e18
    D = np.full((n, m), INF)
    B = np.zeros((n, m), np.int8)
    D[0, 0] = cost[0, 0]
    # step k: (di, dj, extra cost of the skipped cells)
    for i in range(n):
        row = np.full(m, INF)
        arg = np.zeros(m, np.int8)
        ci = cost[i]
        cands = []
        if i >= 1:
            p = np.full(m, INF)
            p[1:] = D[i - 1, :-1]
            cands.append(p)  # (1,1)
            p = np.full(m, INF)
            p[2:] = D[i - 1, :-2] + ci[1:-1]
            cands.append(p)  # (1,2)
            p = np.full(m, INF)
            p[3:] = D[i - 1, :-3] + ci[2:-1] + ci[1:-2]
            cands.append(p)  # (1,3)
        if i >= 2:
            p = np.full(m, INF)
            p[1:] = D[i - 2, :-1] + cost[i - 1, 1:]
            cands.append(p)  # (2,1)
        if i >= 3:
            p = np.full(m, INF)
            p[1:] = D[i - 3, :-1] + cost[i - 1, 1:] + cost[i - 2, 1:]
            cands.append(p)  # (3,1)
        if cands:
            st = np.vstack(cands)
            arg = np.argmin(st, 0).astype(np.int8)
            row = st[arg, np.arange(m)] + ci
            D[i] = row
            B[i] = arg
    # backtrack from the end (both sequences end together)
    kinds = [(1, 1), (1, 2), (1, 3), (2, 1), (3, 1)]
    i, j = n - 1, m - 1
    pi, pj = [i], [j]
    while i > 0 or j > 0:
        avail = []
        if i >= 1:
            avail += [(1, 1), (1, 2), (1, 3)]
        if i >= 2:
            avail.append((2, 1))
        if i >= 3:
            avail.append((3, 1))
        di, dj = avail[B[i, j]] if B[i, j] < len(avail) else (1, 1)
        # cells passed over
        for s in range(1, max(di, dj)):
            pi.append(i - (s if di > 1 else 0) if di > 1 else i)
            pj.append(j - (s if dj > 1 else 0) if dj > 1 else j)
        i, j = i - di, j - dj
        if i < 0 or j < 0:
            break
        pi.append(i)
        pj.append(j)
    del kinds
    return np.array(pi[::-1]), np.array(pj[::-1])


def transfer(segs, pi, pj, n_ref, dur_tgt):
    """Maps reference phone boundaries (seconds) through the path to the target."""
    # target frame for each reference frame: the mean of the frames it is matched with
    tj = np.zeros(n_ref)
    cnt = np.zeros(n_ref)
    np.add.at(tj, pi, pj)
    np.add.at(cnt, pi, 1)
    tj = tj / np.maximum(cnt, 1)
    # times at frame centres
    rc = (np.arange(n_ref) * HOP + WIN / 2) / FS
    tc = (tj * HOP + WIN / 2) / FS

    def warp(t):
        return float(np.interp(t, rc, tc))
    out = []
    for s, e, name in segs:
        out.append([warp(s), warp(e), name])
    out[0][0] = 0.0
    out[-1][1] = max(out[-1][1], dur_tgt)
    res = []  # contiguous, monotonic; a phone squeezed to nothing keeps its place (length 0)
    for s, e, name in out:
        if res:
            s = res[-1][1]
        res.append((s, max(s, e), name))
    return res


def align(ref_x, ref_fs, segs, tgt_x, tgt_fs, with_cost=False, warp=1.0):
    """The reference's labels segs carried onto the target. warp != 1 first moves every
    frequency of the reference by that factor (and its duration by the inverse, labels too):
    a shorter or longer vocal tract, so that a reference of the other sex can match."""
    r = resample(ref_x, ref_fs * warp)
    segs = [(a / warp, b / warp, nm) for a, b, nm in segs]
    t = resample(tgt_x, tgt_fs)
    # The reference (MBROLA) starts and ends on a sound; the target has its own leading and
    # trailing silence: pad the reference with labelled pauses so that DTW can match them.
    pad = int(0.25 * FS)
    r = np.concatenate([np.zeros(pad), r, np.zeros(pad)])
    r = r + 1e-5 * np.random.default_rng(0).standard_normal(len(r))
    off = pad / FS
    s2 = [(0.0, off, '_')] + [(a + off, b + off, nm) for a, b, nm in segs]
    s2.append((s2[-1][1], len(r) / FS, '_'))
    segs = []
    for sg in s2:  # merge neighbouring pauses
        if segs and sg[2] == '_' and segs[-1][2] == '_':
            segs[-1] = (segs[-1][0], sg[1], '_')
        else:
            segs.append(sg)
    fr, ft = features(r), features(t)
    pi, pj = dtw(fr, ft)
    out = transfer(segs, pi, pj, len(fr), len(t) / FS)
    if with_cost:  # mean feature distance along the path: how well the two renders match
        return out, float(np.mean(np.sqrt(((fr[pi] - ft[pj]) ** 2).sum(1))))
    return out


STEP = HOP / 2 / FS  # level_5ms's frame step (s)
WIN_EDGE = 0.02  # fix_edges's level window (s)


def level_5ms(x, fs, win=WIN_EDGE):
    """Frame level in dB (RMS over a centred window of `win` s every 5 ms, at 16 kHz) and
    its 95th percentile."""
    y = resample(x, fs)
    n = int(round(win * FS))
    e = 10 * np.log10(np.convolve(y ** 2, np.ones(n) / n, 'same') + 1e-12)
    e = e[::HOP // 2]
    return e, float(np.percentile(e, 95))


def fix_pauses(segs, x, fs, quiet_db=-35.0, min_run=0.04):
    """The reference pauses at every comma; RHVoice (and pico at times) often does not. A
    carried-over pause inside the utterance is shrunk to the longest quiet run of the target
    inside it (frames 35 dB below the 95th-percentile level), or removed (its time split
    between its neighbours) when that run is shorter than 40 ms."""
    e, ref = level_5ms(x, fs, 0.01)
    step = STEP
    out = [list(sg) for sg in segs]
    i = 1
    while i < len(out) - 1:
        s, t, name = out[i]
        if name != '_':
            i += 1
            continue
        a, b = int(s / step), max(int(s / step) + 1, int(t / step))
        q = e[a:b] < ref + quiet_db
        best, cur, best_end = 0, 0, a
        for k, v in enumerate(q):
            cur = cur + 1 if v else 0
            if cur > best:
                best, best_end = cur, a + k + 1
        if best * step < min_run:
            mid = (s + t) / 2
            out[i - 1][1] = mid
            out[i + 1][0] = mid
            del out[i]
            continue
        qs, qe = (best_end - best) * step, best_end * step
        out[i][0], out[i][1] = max(s, qs), min(t, qe)
        out[i - 1][1] = out[i][0]
        out[i + 1][0] = out[i][1]
        i += 1
    return [tuple(sg) for sg in out]


def fix_edges(segs, x, fs, loud_db=-30.0, min_run=0.02, max_closure=0.1):
    """The leading and trailing pauses that DTW carries over can lie over the first or last
    sound: the reference pause is padded to 250 ms and the warp's tempo limits (1/3..3) and
    band cannot always squeeze or stretch it onto the target's own silence, so the first
    phone starts late or the last one ends early by up to a few hundred ms. The edges are
    snapped to the target's own sound: speech is a run of >= 20 ms within 30 dB of the
    utterance's 95th-percentile level (the renders are clean, their pauses near digital
    silence). A pause over such sound is shrunk to end (begin) where it starts (stops); a
    first (last) phone that starts (ends) more than 100 ms before (after) the sound is
    trimmed to 100 ms of it, room for a silent stop closure."""
    if len(segs) < 2:
        return list(segs)
    e, ref = level_5ms(x, fs)
    step = STEP
    loud = e > ref + loud_db
    k = max(1, int(round(min_run / step)))
    run = np.convolve(loud.astype(int), np.ones(k, int), 'valid') == k  # run starts
    if not run.any():
        return list(segs)
    first = int(np.argmax(run))
    last = int(len(run) - 1 - np.argmax(run[::-1])) + k
    # the 20 ms window is centred: the level rises half a window before the sound starts
    onset = first * step + WIN_EDGE / 2
    offset = min(last * step - WIN_EDGE / 2, segs[-1][1])
    out = [list(sg) for sg in segs]
    if out[0][2] == '_' and len(out) > 1 and out[1][2] != '_':
        b = out[0][1]
        if b > onset:
            b = onset
        elif b < onset - max_closure:
            b = min(onset - max_closure, out[1][1])
        out[0][1] = out[1][0] = max(0.0, b)
    if out[-1][2] == '_' and len(out) > 1 and out[-2][2] != '_':
        b = out[-1][0]
        if b < offset:
            b = offset
        elif b > offset + max_closure:
            b = max(offset + max_closure, out[-2][0])
        out[-1][0] = out[-2][1] = min(out[-1][1], b)
    return [tuple(sg) for sg in out if sg[1] > sg[0] or sg[2] != '_']


def align_files(ref_wav, segs, tgt_wav, with_cost=False, warps=(1.0,)):
    """The reference's labels carried onto the target's audio, pauses and edges fixed (and
    the path's mean feature distance with with_cost), or None. With several warps (see
    align) the one with the lowest path cost is kept."""
    rx, rfs = read_wav(ref_wav)
    tx, tfs = read_wav(tgt_wav)
    if len(rx) < WIN or len(tx) < WIN:
        return None
    out, cost = min((align(rx, rfs, segs, tx, tfs, with_cost=True, warp=w) for w in warps),
                    key=lambda oc: oc[1])
    out = fix_edges(fix_pauses(out, tx, tfs), tx, tfs)
    return (out, cost) if with_cost else out


def pad_target(x, fs, ts, rs, lead, tail):
    """The target x with lead and tail samples of silence (real targets, pico and RHVoice, come
    with their own), its labels ts moved and closed by pauses to match, and the reference's
    labels rs opened by an empty pause where they start on a sound."""
    import os
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from render import merge_pauses
    x = np.concatenate([np.zeros(lead), x, np.zeros(tail)])
    ts = [(0.0, lead / fs, '_')] + [(a + lead / fs, b + lead / fs, nm) for a, b, nm in ts]
    ts = merge_pauses(ts + [(ts[-1][1], len(x) / fs, '_')])
    rs = [(0.0, 0.0, '_')] + list(rs) if rs[0][2] != '_' else list(rs)
    return x, ts, rs


def measure(n_per_lang, gen):
    """Boundary error of the aligner against exact labels: an MBROLA voice rendered with a
    random tempo (0.8-1.25) and pitch (+-4 semitones) is aligned as if unlabelled to the
    reference voice of its language, and the carried-over boundaries are compared with the
    exact ones (same espeak-ng phone sequence, so boundaries pair one to one)."""
    import os
    import random
    import subprocess
    import tempfile
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import render
    pairs = [('en', 'us1', 'us2'), ('en', 'us1', 'en1'), ('de', 'de1', 'de5'),
             ('fr', 'fr1', 'fr3'), ('es', 'es1', 'es3'), ('it', 'it1', 'it3')]
    rnd = random.Random(5)
    errs = {}
    edges = []
    tmp = tempfile.mkdtemp()
    for lang, ref, tgt in pairs:
        tl = render.texts(gen, lang, n_per_lang, 777)
        for k, text in enumerate(tl):
            files = {}
            for v, tempo, semi in [(ref, 1.0, 0.0),
                                   (tgt, rnd.uniform(0.8, 1.25), rnd.uniform(-4, 4))]:
                pho, sg = render.mbrola_pho(v, text, tempo, semi)
                p = os.path.join(tmp, v + '.pho')
                open(p, 'w').write(pho)
                w = os.path.join(tmp, v + '.wav')
                subprocess.run(['mbrola', '-e', '/usr/share/mbrola/%s/%s' % (v, v), p, w],
                               capture_output=True, check=True)
                files[v] = (w, render.merge_pauses(sg))
            rs, ts = files[ref][1], files[tgt][1]
            # Real targets (pico, RHVoice) come with their own leading and trailing silence.
            x, fs = read_wav(files[tgt][0])
            lead, tail = int(rnd.uniform(0.05, 0.4) * fs), int(rnd.uniform(0.05, 0.4) * fs)
            x, ts, rs = pad_target(x, fs, ts, rs, lead, tail)
            write_wav(files[tgt][0], x, fs)
            if [s[2] for s in rs] != [s[2] for s in ts]:
                continue
            al = align_files(files[ref][0], rs, files[tgt][0])
            if not al or len(al) != len(ts):
                continue
            e = [abs(a[0] - b[0]) * 1000 for a, b in zip(al[1:], ts[1:])]
            errs.setdefault(lang + ' ' + tgt + '<-' + ref, []).extend(e)
            edges.extend([e[0], e[-1]])  # first phone's start, last phone's end
    allv = np.concatenate([np.array(v) for v in errs.values()])
    rows = []
    for k, v in errs.items():
        v = np.array(v)
        rows.append('%-14s boundaries %5d  median %5.1f ms  p90 %5.1f ms  within 20 ms %4.0f %%' %
                    (k, len(v), np.median(v), np.percentile(v, 90), 100 * np.mean(v <= 20)))
    for k, v in (('all', allv), ('edges only', np.array(edges))):
        rows.append('%-14s boundaries %5d  median %5.1f ms  p90 %5.1f ms  within 20 ms %4.0f %%' %
                    (k, len(v), np.median(v), np.percentile(v, 90), 100 * np.mean(v <= 20)))
    return rows


def label_offsets(rx, rfs, rs, x, fs, ts):
    """Signed differences (ms) between the boundaries of ts (x's own labels) and those the
    aligner carries over from rs (the reference rx's labels) onto x: positive where ts puts a
    boundary before the sound rs's convention marks. x is padded with 0.2 s of silence (as
    real targets come); only boundaries inside runs of phones both sequences share are
    compared (a voice's espeak-ng rules can differ from the reference's by a phone here and
    there), not the utterance's edges."""
    import difflib
    pad = int(0.2 * fs)
    xp, ts, rs = pad_target(x, fs, ts, rs, pad, pad)
    rs = rs + [(rs[-1][1], rs[-1][1], '_')] if rs[-1][2] != '_' else rs
    if len(rx) < WIN or len(xp) < WIN:
        return []
    al = fix_edges(fix_pauses(align(rx, rfs, rs, xp, fs), xp, fs), xp, fs)
    if len(al) != len(rs):
        return []
    sm = difflib.SequenceMatcher(None, [s[2] for s in rs], [s[2] for s in ts], autojunk=False)
    d = []
    for i, j, m in sm.get_matching_blocks():
        for k in range(1, m):
            if 2 <= i + k <= len(rs) - 2 and 2 <= j + k <= len(ts) - 2:
                d.append((al[i + k][0] - ts[j + k][0]) * 1000)
    return d


# flite's ARPAbet as the English MBROLA voices name the same phones (us1's names; its
# aspirated t_h p_h k_h are compared as t p k), for comparing flite's labels with theirs.
ARPA_TO_US = {'pau': '_', 'aa': 'A', 'ae': '{', 'ah': 'V', 'ao': 'O', 'aw': 'aU', 'ax': '@',
              'ay': 'AI', 'eh': 'E', 'er': 'r=', 'ey': 'EI', 'ih': 'I', 'iy': 'i', 'ow': '@U',
              'oy': 'OI', 'uh': 'U', 'uw': 'u', 'ng': 'N', 'ch': 'tS', 'jh': 'dZ', 'sh': 'S',
              'zh': 'Z', 'th': 'T', 'dh': 'D', 'hh': 'h', 'y': 'j'}


# Open JTalk's phone names as espeak-ng's Japanese voices (the MBROLA labels) name them.
JTALK_TO_JP = {'sil': '_', 'pau': '_', 'y': 'j', 'sh': 'S', 'ch': 'c', 'I': 'i'}


class _Mid:
    """A stand-in for render.py's random source: tempo 1 (a range around 1), pitch unchanged
    (a range around 0)."""
    def uniform(self, a, b):
        return 1.0 if 0 < a < 1.0 < b else (a + b) / 2


def offsets(n, gen, names=None, jobs=1):
    """Signed label offset of each MBROLA, flite and Open JTalk voice against its language's
    reference MBROLA voice (flite: us1, Open JTalk: jp1): both render the same texts at tempo
    1 and pitch 0, the voice's audio (padded with 0.2 s of silence) is aligned as if
    unlabelled onto the reference's exact labels, and every inner boundary carried over is
    compared with the voice's own exact one. Positive: the voice's labels come before the
    sound the reference's labels mark (its database puts phone boundaries earlier). Only
    boundaries inside runs of phones both sequences share are compared (flite's and Open
    JTalk's names mapped to the MBROLA labels').
    Returns {voice: (utterances, boundaries, trimmed mean ms, median ms)}; the trimmed mean
    leaves out differences over 60 ms (a word the DTW mismatched)."""
    import os
    import tempfile
    from concurrent.futures import ProcessPoolExecutor
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import render
    ref_of = dict(render.ALIGN_REF, ja='jp1')
    todo = []
    for v in render.voices().values():
        nm = v['name'].split('-', 1)[1]
        if v['family'] not in ('mbrola', 'flite', 'openjtalk') or v['lang'] not in ref_of \
                or nm == ref_of[v['lang']]:
            continue
        if names and nm not in names and v['name'] not in names:
            continue
        todo.append((v, ref_of[v['lang']]))
    texts = {lang: render.texts(gen, lang, n, 777) for lang in {v['lang'] for v, _ in todo}}
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(max_workers=max(1, jobs)) as ex:
        res = list(ex.map(_offset_one, [(v, ref, texts[v['lang']], tmp) for v, ref in todo]))
    return {v['name']: r for (v, _), r in zip(todo, res)}


def _offset_one(arg):
    import os
    import render
    v, ref, texts, tmp = arg
    voice = v['name'].split('-', 1)[1]
    d, used = [], 0
    for k, text in enumerate(texts):
        base = os.path.join(tmp, '%s_%d' % (v['name'], k))
        rs = _mbrola_plain(ref, text, base + '_ref')
        if rs is None:
            continue
        if v['family'] == 'flite':
            if not render.render_flite(v, text, base, _Mid()):
                continue
            ts = render.merge_pauses([(a, b, ARPA_TO_US.get(nm, nm))
                                      for a, b, nm in read_lab(base + '.lab')])
        elif v['family'] == 'openjtalk':
            if not render.render_jtalk(v, text, base, _Mid()):
                continue
            ts = render.merge_pauses([(a, b, JTALK_TO_JP.get(nm, nm))
                                      for a, b, nm in read_lab(base + '.lab')])
        else:
            ts = _mbrola_plain(voice, text, base)
            if ts is None:
                continue
        rx, rfs = read_wav(base + '_ref.wav')
        x, fs = read_wav(base + '.wav')
        e = label_offsets(rx, rfs, rs, x, fs, ts)
        d.extend(e)
        used += len(e) > 0
    if not d:
        return (used, 0, float('nan'), float('nan'))
    d = np.array(d)
    t = d[np.abs(d) <= 60]
    return (used, len(d), float(t.mean()) if len(t) else float('nan'), float(np.median(d)))


def measure_refs(n, gen, targets, margins=(0.0, 0.2, 0.5), warps=None):
    """Boundary error of the aligner on voices with exact labels, per reference and with the
    per-utterance pick render.align makes (render.pick_reference, at each of several margins):
    each target (an MBROLA or flite voice of a language with references) renders n texts at a
    random tempo, pitch and vocal-tract warp (0.82-1.18) with 0.05-0.4 s of silence either
    side, is aligned as if unlabelled (each reference tried at each of warps), and every
    boundary inside runs of phones the aligned and the exact labels share (flite's names
    mapped to us1's) is compared. The share of the target's phones inside such runs is
    reported too (a reference that spells the pseudo-words otherwise shares fewer).
    Returns table rows."""
    import difflib
    import os
    import random
    import tempfile
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import render
    vs = {v['name']: v for v in render.voices().values()}
    warps = render.ALIGN_WARPS if warps is None else warps

    def plain(nm):
        nm = '_' if nm in ('pau', '_') else ARPA_TO_US.get(nm, nm)
        return nm[:-2] if nm in ('t_h', 'p_h', 'k_h') else nm

    rows = ['| target <- reference | utterances | boundaries | phones matched | median | p90 | '
            'within 20 ms |', '|---|---|---|---|---|---|---|']
    tmpdir = tempfile.TemporaryDirectory()
    tmp = tmpdir.name
    for tgt in targets:
        v = vs[tgt]
        rnd = random.Random(5)
        refs = [r for r in render.ALIGN_REFS[v['lang']] if r.replace(':', '-') != tgt]
        picks = ['pick %.2f' % m for m in margins]
        err = {r: [] for r in refs + picks}
        cov = {r: [0, 0] for r in refs + picks}
        used = 0
        for text in render.texts(gen, v['lang'], n, 777):
            got_all = []
            base = os.path.join(tmp, 't')
            if not render.FAMILY[v['family']](v, text, base, rnd):
                continue
            ts = render.merge_pauses([(a, b, plain(nm)) for a, b, nm in read_lab(base + '.lab')])
            x, fs = read_wav(base + '.wav')
            vt = rnd.uniform(0.82, 1.18)  # a vocal-tract warp, as the training data's
            x = resample(x, fs * vt, fs)
            ts = [(s / vt, e / vt, nm) for s, e, nm in ts]
            lead, tail = int(rnd.uniform(0.05, 0.4) * fs), int(rnd.uniform(0.05, 0.4) * fs)
            x, ts, _ = pad_target(x, fs, ts, [(0.0, 0.0, '_')], lead, tail)
            write_wav(base + '.wav', x, fs)
            for segs, cost, _, ref in render.align_all(v, text, base, warps):
                al = [(a, b, plain(nm)) for a, b, nm in segs]
                sm = difflib.SequenceMatcher(None, [s[2] for s in al], [s[2] for s in ts],
                                             autojunk=False)
                d, hit = [], 0
                for i, j, m in sm.get_matching_blocks():
                    hit += m
                    d += [abs(al[i + k][0] - ts[j + k][0]) * 1000 for k in range(1, m)]
                err[ref] += d
                cov[ref][0] += hit
                cov[ref][1] += len(ts)
                got_all.append((cost, d, hit))
            if not got_all:
                continue
            used += 1
            for m, key in zip(margins, picks):
                best = got_all[render.pick_reference([c for c, _, _ in got_all], m)]
                err[key] += best[1]
                cov[key][0] += best[2]
                cov[key][1] += len(ts)
        for key, d in err.items():
            d = np.array(d) if d else np.array([np.nan])
            rows.append('| %s <- %s | %d | %d | %.0f %% | %.1f ms | %.1f ms | %.0f %% |' % (
                tgt, key, used, len(d), 100.0 * cov[key][0] / max(1, cov[key][1]),
                np.median(d), np.percentile(d, 90), 100 * np.mean(d <= 20)))
    tmpdir.cleanup()
    return rows


def _mbrola_plain(voice, text, base):
    """Renders text with an MBROLA voice at tempo 1 and pitch 0 into base.wav; its labels
    (pauses merged, aspirated stops t_h p_h k_h under their plain names), or None."""
    import os
    import render
    pho, segs = render.mbrola_pho(voice, text)
    with open(base + '.pho', 'w') as f:
        f.write(pho)
    if not render.run_mbrola(render.mbrola_db_path(voice), base + '.pho', base + '.wav'):
        return None
    return [(a, b, nm[:-2] if nm in ('t_h', 'p_h', 'k_h') else nm)
            for a, b, nm in render.merge_pauses(segs)]


def read_lab(path):
    return [(float(a), float(b), c) for a, b, c in (l.split() for l in open(path))]


def loud_silence(segs, x, fs, away=0.06, below_db=20.0):
    """(frames scored as silence, those holding speech-level sound): frames at least 60 ms
    from every phone (as the evaluation's silence precision) whose level is within 20 dB of
    the median level inside the phones."""
    e, _ = level_5ms(x, fs)
    t = np.arange(len(e)) * STEP
    near = np.zeros(len(e), bool)
    inside = np.zeros(len(e), bool)
    for a, b, c in segs:
        if c != '_':
            near |= (t >= a - away) & (t < b + away)
            inside |= (t >= a) & (t < b)
    if not inside.any():
        return 0, 0
    thr = np.median(e[inside]) - below_db
    sil = ~near
    return int(sil.sum()), int((sil & (e > thr)).sum())


def aligned_rows(path):
    for line in open(path):
        f = line.rstrip('\n').split('\t')
        if len(f) >= 5 and 300 <= int(f[3]) < 500:
            yield f


def edge_report(path):
    """Per aligned voice of a manifest: share of silence frames over speech-level sound with
    the labels as they are and after fix_edges (nothing is written)."""
    import collections
    acc = collections.defaultdict(lambda: [0, 0, 0, 0])
    for f in aligned_rows(path):
        segs = read_lab(f[1])
        x, fs = read_wav(f[0])
        a = acc[int(f[3])]
        n, l = loud_silence(segs, x, fs)
        a[0] += n
        a[1] += l
        n, l = loud_silence(fix_edges(segs, x, fs), x, fs)
        a[2] += n
        a[3] += l
    return ['voice %d: silence frames %d, over speech-level sound %.1f %%; after fix_edges %d, '
            '%.1f %%' % (v, a[0], 100 * a[1] / max(1, a[0]), a[2], 100 * a[3] / max(1, a[2]))
            for v, a in sorted(acc.items())]


def fix_manifest(path, fix=lambda segs, x, fs: fix_edges(fix_pauses(segs, x, fs), x, fs)):
    """Applies fix_pauses and fix_edges to the label files of the aligned voices (ids
    300-499) of a manifest in place (for renders made before them; idempotent)."""
    import os
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import render
    n = changed = 0
    for f in aligned_rows(path):
        segs = read_lab(f[1])
        x, fs = read_wav(f[0])
        out = fix(segs, x, fs)
        n += 1
        if [(round(a, 5), round(b, 5), c) for a, b, c in out] != segs:
            changed += 1
            render.write_lab(f[1], out)
    return n, changed


if __name__ == '__main__':
    if len(sys.argv) >= 3 and sys.argv[1] == '--edge-report':
        for p in sys.argv[2:]:
            for line in edge_report(p):
                print('%s: %s' % (p, line))
        sys.exit(0)
    if len(sys.argv) >= 3 and sys.argv[1] in ('--fix-pauses', '--fix-labels'):
        for p in sys.argv[2:]:
            print('%s: %d aligned label files, %d changed' % ((p,) + fix_manifest(p)))
        sys.exit(0)
    if len(sys.argv) >= 4 and sys.argv[1] == '--offsets':
        res = offsets(int(sys.argv[2]), sys.argv[3], sys.argv[4:], jobs=2)
        print('| voice | utterances | boundaries | offset, trimmed mean | median |')
        print('|---|---|---|---|---|')
        for v, (u, b, m, med) in res.items():
            print('| %s | %d | %d | %+.1f ms | %+.1f ms |' % (v, u, b, m, med))
        sys.exit(0)
    if len(sys.argv) >= 5 and sys.argv[1] == '--measure-refs':
        a = sys.argv[4:]
        w = None
        if '--warps' in a:  # --warps 1,0.85,1.18
            i = a.index('--warps')
            w = tuple(float(f) for f in a[i + 1].split(','))
            del a[i:i + 2]
        for line in measure_refs(int(sys.argv[2]), sys.argv[3], a, warps=w):
            print(line)
        sys.exit(0)
    if len(sys.argv) >= 4 and sys.argv[1] == '--measure':
        for line in measure(int(sys.argv[2]), sys.argv[3]):
            print(line)
    else:
        sys.exit('usage: align.py --measure N GEN_BIN | --offsets N GEN_BIN [VOICE...] | '
                 '--measure-refs N GEN_BIN VOICE... [--warps W,W...] | '
                 '--edge-report MANIFEST... | --fix-labels MANIFEST...')
