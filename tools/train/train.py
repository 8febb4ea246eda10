#!/usr/bin/python3
"""Trains the engine's small streaming mouth model on AKDS shards from ak_gen_data and
exports the weights blob (engine/model.c format) plus a fixed-input fixture for the C test.

Model: per 10 ms hop, 32 log-mel -> normalise -> causal conv (k=3) + ReLU -> GRU(H) ->
linear -> sigmoid. The output at step j predicts hop j - M (M hops of look-ahead).

  /usr/bin/python3 tools/train/train.py --train a.bin [b.bin ...] --out models/default.akmw \
      --fixture tests/engine/data/nn_fixture.bin --minutes 25
"""
import argparse
import math
import os
import struct
import sys
import time
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import akds  # noqa: E402
import bg  # noqa: E402
from targets import (NVIS, bilabial_spans, closure_boost, freq_masks,  # noqa: E402
                     lips_short_weight, lips_target, low_gain, round_target, time_masks,
                     vis_target, vowel_floor)

NT = 14
VOICE = 13
LIPS = 14  # the optional closure-decision output (engine/engine_nn.h AK__T_LIPS)
ROUND = 15  # the optional rounding-decision output, after LIPS (AK__T_ROUND)


# Causal per-stream normalisation (--cmn, issue 11): besides each hop's log-mel standardised by
# the training set's mean, the network sees it minus a running mean of the stream's speech
# hops, so a voice's or a channel's long-term spectrum (formant region, tilt, level, EQ) is
# taken out before the network learns what a /p b m/ sounds like. engine/nn.c computes the same
# in float: a hop updates the mean when its mean log-mel is within CMN_REL of a peak tracker
# falling CMN_DECAY per hop, and above CMN_ABS (natural-log power units: 1 = 4.34 dB).
CMN_ALPHA = 0.01  # update rate per speech hop (~1 s of speech)
CMN_DECAY = 0.003  # ~1.3 dB/s
CMN_REL = 4.6  # 20 dB
CMN_ABS = -5.0  # about -52 dBFS of white noise: quieter hiss never moves the mean
CMN_PRE = 400  # hops of the utterance before a training crop that the running mean has heard


def cmn_params():
    return np.array([CMN_ALPHA, CMN_DECAY, CMN_REL, CMN_ABS], np.float32)


def cmn_run(x, ema, peak, prm, valid=None):
    """Runs the running mean over x (B x T x F raw log-mel) from state ema (B x F) and peak
    (B,), both updated in place; returns x - mean after each hop's update (B x T x F). Hops
    where valid (B x T) is False are skipped (left padding of shorter prefixes)."""
    alpha, decay, rel, floor = (float(v) for v in prm)
    out = np.empty_like(x)
    e = x.mean(2)
    for t in range(x.shape[1]):
        et = e[:, t]
        pk = np.maximum(et, peak - decay)
        upd = (et > pk - rel) & (et > floor)
        if valid is not None:
            upd &= valid[:, t]
            pk = np.where(valid[:, t], pk, peak)
        peak[:] = pk
        ema[upd] += alpha * (x[upd, t] - ema[upd])
        out[:, t] = x[:, t] - ema
    return out


def net_of_blob(d):
    """The PyTorch network of one network's blob records (its input width from conv.w)."""
    net = Net(d['conv.w'].shape[2], int(d['meta'][1]), int(d['meta'][3]), int(d['meta'][2]))
    net.load_state_dict(state_from_blob(d))
    return net


def net_input(raw, d):
    """The network's input for one stream of raw log-mel (T x F) from its start, given a
    network's blob records d: standardised features, and with a "cmn" record also the
    features minus the running mean (standardised by the same std), side by side."""
    z = (raw - d['feat.mean']) / d['feat.std']
    if 'cmn' not in d:
        return z.astype(np.float32)
    ema = d['cmn.init'][None].astype(np.float32).copy()
    peak = np.full(1, d['cmn'][3], np.float32)
    u = cmn_run(raw[None].astype(np.float32), ema, peak, d['cmn'])[0] / d['feat.std']
    return np.concatenate([z, u], 1).astype(np.float32)


BLOB_VERSION = 1


class Net(torch.nn.Module):
    def __init__(self, nmel, hidden, lookahead, nout=NT, naux=0):
        super().__init__()
        self.M = lookahead
        self.conv = torch.nn.Conv1d(nmel, hidden, 3)
        self.gru = torch.nn.GRU(hidden, hidden, batch_first=True)
        self.out = torch.nn.Linear(hidden, nout)
        # Training-only head (not exported): viseme class logits from the same GRU state.
        self.aux = torch.nn.Linear(hidden, naux) if naux else None

    def forward(self, x, with_aux=False):  # x: B x T x nmel (normalised)
        y = torch.nn.functional.pad(x.transpose(1, 2), (2, 0))
        y = torch.relu(self.conv(y)).transpose(1, 2)
        y, _ = self.gru(y)
        if with_aux:
            return self.out(y), self.aux(y)
        return self.out(y)  # logits


def blob(records):
    """records: list of (name, np.float32 array). Returns bytes in the AKMW v1 layout."""
    body = b''
    for name, arr in records:
        arr = np.ascontiguousarray(arr, dtype='<f4')
        dims = list(arr.shape) + [1] * (4 - arr.ndim)
        nm = name.encode()
        assert len(nm) < 32
        body += nm + b'\0' * (32 - len(nm))
        body += struct.pack('<7I', 0, arr.ndim, *dims, arr.nbytes)
        body += arr.tobytes()
    total = 24 + len(body)
    head = b'AKMW' + struct.pack('<5I', BLOB_VERSION, len(records), total,
                                 zlib.crc32(body) & 0xffffffff, 0)
    return head + body


def state_from_blob(d):
    """The PyTorch state dict of one network's blob records (conv.w, gru.*, out.*)."""
    return {
        'conv.weight': torch.tensor(d['conv.w'].transpose(0, 2, 1).copy()),
        'conv.bias': torch.tensor(d['conv.b']),
        'gru.weight_ih_l0': torch.tensor(d['gru.w_ih']),
        'gru.weight_hh_l0': torch.tensor(d['gru.w_hh']),
        'gru.bias_ih_l0': torch.tensor(d['gru.b_ih']),
        'gru.bias_hh_l0': torch.tensor(d['gru.b_hh']),
        'out.weight': torch.tensor(d['out.w']), 'out.bias': torch.tensor(d['out.b'])}


def load_blob(path):
    """Reads an AKMW v1 blob back into {name: array} (for warm starts and checks)."""
    b = open(path, 'rb').read()
    if b[:4] != b'AKMW' or struct.unpack_from('<I', b, 4)[0] != BLOB_VERSION:
        raise ValueError('not an AKMW v1 blob: %s' % path)
    n = struct.unpack_from('<I', b, 8)[0]
    off, d = 24, {}
    for _ in range(n):
        name = b[off:off + 32].split(b'\0')[0].decode()
        _, nd, d0, d1, d2, d3, nb = struct.unpack_from('<7I', b, off + 32)
        d[name] = np.frombuffer(b, '<f4', nb // 4, off + 60).reshape([d0, d1, d2, d3][:nd]).copy()
        off += 60 + nb
    return d


def grow(src, fresh, h0, h1):
    """Embeds a trained network of hidden size h0 in one of size h1 > h0 so that it computes
    the same outputs: new conv channels and GRU units start from small random input weights,
    the old units ignore the new ones (zero columns), and the output ignores the new units."""
    if h1 < h0:
        sys.exit('train: cannot shrink hidden %d -> %d' % (h0, h1))
    out = {k: v.clone() * 0.1 for k, v in fresh.items()}
    out['conv.weight'][:h0] = src['conv.weight']
    out['conv.bias'][:h0] = src['conv.bias']
    for k in ('gru.weight_ih_l0', 'gru.weight_hh_l0'):
        for g in range(3):
            out[k][g * h1:g * h1 + h0, :] = 0
            out[k][g * h1:g * h1 + h0, :h0] = src[k][g * h0:(g + 1) * h0]
    for k in ('gru.bias_ih_l0', 'gru.bias_hh_l0'):
        for g in range(3):
            out[k][g * h1:g * h1 + h0] = src[k][g * h0:(g + 1) * h0]
    out['out.weight'][:] = 0
    out['out.weight'][:, :h0] = src['out.weight']
    out['out.bias'] = src['out.bias'].clone()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--train', nargs='+', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--fixture')
    ap.add_argument('--hidden', type=int, default=64)
    ap.add_argument('--lookahead', type=int, default=5)
    ap.add_argument('--minutes', type=float, default=25)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--crop', type=int, default=300)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--init', help='warm start from this blob (same hidden size)')
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--round-weight', type=float, default=2.0)
    ap.add_argument('--close-weight', type=float, default=3.0)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--oversample', action='append', default=[], metavar='LANG:FACTOR',
                    help='draw utterances of language id LANG FACTOR times as often '
                         '(ids as in gen.c: en 0 es 1 de 2 fr 3 it 4 cmn 5 ja 6 yue 7 nl 8 cs 9)')
    ap.add_argument('--checkpoint-minutes', type=float, default=10,
                    help='write the blob this often while training (0: only at the end)')
    ap.add_argument('--ckpt-dir', help='also keep every checkpoint as DIR/ckpt_NNN.akmw '
                    '(for picking one on the valid voices with tools/train/pick.py)')
    ap.add_argument('--espeak-share', type=float, default=0,
                    help='draw espeak-ng utterances (voice id < 100) with this total share '
                         '(0: as they come)')
    ap.add_argument('--voices', help='voices.tsv; utterances of voices whose split is not '
                    '"train" are refused (a guard against training on valid/test voices)')
    ap.add_argument('--noise-floor', type=float, default=0,
                    help='probability of adding a random noise floor (40-65 dB below the '
                         'speech level) in the feature domain to espeak-ng utterances whose '
                         'shard did not (AKDS flag 256)')
    ap.add_argument('--open-weight', type=float, default=0,
                    help='extra squared-error weight on the lip opening jawOpen - mouthClose')
    ap.add_argument('--lips', action='store_true',
                    help='add the closure-decision output (15th, cross-entropy on "inside the '
                         'middle of a /p b m/")')
    ap.add_argument('--lips-weight', type=float, default=1.0)
    ap.add_argument('--round-decision', type=float, default=0, metavar='WEIGHT',
                    help='with --lips, a 16th output: the probability that the lips are rounded '
                    '(targets.round_target), cross-entropy at this weight; the blob gets its '
                    '"round.pose" (the median target funnel and pucker where it is 1)')
    ap.add_argument('--lips-short', type=float, default=0, metavar='K',
                    help='weigh the closure decision of a /p b m/ with n target hops by '
                         'max(1, K/n) per hop, so short bilabials count about as much as '
                         'long ones (0: off)')
    ap.add_argument('--silence', type=float, default=0,
                    help='probability that a crop holds a background without speech (digital '
                         'zeros, hiss, hum at -100..-65 dBFS; tools/train/bg.py) with rest '
                         'targets: a whole crop of it (a quarter of them) or one spliced before '
                         'the start or after the end of the utterance')
    ap.add_argument('--gap', type=float, default=0,
                    help='probability that a crop is speech that stops inside a phone, a '
                         'pause of 0.25-1.5 s and (60 %% of them) the start of another '
                         'utterance, under one noise at -72..-35 dBFS (at least 20 dB under the '
                         'speech; tools/train/bg.py noisy_gap) with rest targets in the pause')
    ap.add_argument('--gap-tone', type=float, default=0,
                    help='share of the --gap crops whose sound before the pause is a steady '
                         'harmonic tone (a beep, a hum) instead of speech, with no loss on the '
                         'tone itself: only the pause after it is taught to rest')
    ap.add_argument('--rest-weight', type=float, default=1.0,
                    help='weight of the mouth channels\' squared error at hops whose voice '
                         'target is 0 (pauses and silence)')
    ap.add_argument('--aux-weight', type=float, default=0,
                    help='weight of an auxiliary cross-entropy on the viseme class of each hop '
                         '(a training-only output head, not exported)')
    ap.add_argument('--vowel-weight', type=float, default=0,
                    help='weight of a one-sided loss on vowels: at hops in the central half '
                         'of a vowel phone (viseme aa..uc, >= 30 ms) the squared shortfall of '
                         'the predicted lip opening jawOpen - mouthClose under a floor '
                         '(--vowel-open) counts W times; an opening above it costs nothing')
    ap.add_argument('--vowel-open', nargs=2, type=float, default=[0.7, 0.35],
                    metavar=('FRAC', 'REL'),
                    help='the floor of --vowel-weight: max(FRAC x the target opening, REL x '
                         'the 95th percentile of the target opening over the utterance)')
    ap.add_argument('--freq-mask', metavar='COUNT:WIDTH:PROB',
                    help='with probability PROB per crop, hide up to COUNT bands of 1..WIDTH '
                    'mel channels for the whole crop (SpecAugment; targets.freq_masks)')
    ap.add_argument('--time-mask', metavar='COUNT:WIDTH:PROB',
                    help='with probability PROB per crop, hide every input of up to COUNT runs '
                    'of 1..WIDTH frames (10 ms hops), targets kept (SpecAugment time masks: a '
                    'phone is to be heard from its neighbours too)')
    ap.add_argument('--bar-boost', metavar='DB:PROB',
                    help='with probability PROB per crop, each /p b m/ in it gets its own gain '
                    'of 0..DB dB under 600 Hz (targets.closure_boost: a louder, wider voice bar '
                    'or nasal murmur must still read as closed lips)')
    ap.add_argument('--low-gain', metavar='DB:PROB',
                    help='with probability PROB per crop, the whole crop gets one gain of '
                    '-DB..+DB dB under 600 Hz (a channel or voice with more or less low band)')
    ap.add_argument('--end-by', help='stop at this wall-clock time (HH:MM, local; tomorrow\'s '
                    'if already past today) at the latest')
    ap.add_argument('--steady', type=float, default=0, metavar='PROB',
                    help='probability that a crop is a voice holding vowels (singing, a drawn-out '
                    'syllable; tools/train/bg.py held_vowels), 1-3 of the five vowel visemes, '
                    'sometimes starting or stopping inside the crop, with each vowel\'s median '
                    'target row in the data as its target: a steady voiced sound is speech')
    ap.add_argument('--burn-in', type=int, default=0, metavar='HOPS',
                    help='a speech crop also gets up to HOPS hops of its utterance before it, '
                    'heard with no loss, so the GRU starts it in the state a stream is in after '
                    'that much speech instead of from zero (the engine never resets its state)')
    ap.add_argument('--cmn', action='store_true',
                    help='also feed the features minus a causal running mean of the stream\'s '
                         'speech hops (per-stream normalisation; a warm start without it gets '
                         'zero weights for the new inputs, so it starts as the old network)')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    print('seed', a.seed, flush=True)

    utts = []
    for p in a.train:
        utts += akds.read(p)
    keep = [u for u in utts if len(u['feat']) > a.lookahead + 10]
    if a.voices:
        split = {}
        for line in open(a.voices):
            f = line.rstrip('\n').split('\t')
            if len(f) >= 5 and f[0].isdigit():
                split[int(f[0])] = f[4]
        bad = sorted({int(u['voice']) for u in keep if split.get(int(u['voice'])) != 'train'})
        if bad:
            sys.exit('train: voices %s are not train voices in %s' % (bad, a.voices))
    feats = [u['feat'] for u in keep]
    tgts = [u['target'] for u in keep]
    nout = NT + 1 if a.lips else NT
    if a.lips:
        tgts = [np.concatenate([t, lips_target(u['phones'], len(t))[:, None]], 1)
                for t, u in zip(tgts, keep)]
        print('lips target: %.2f%% of hops' % (100 * np.mean(np.concatenate(
            [t[:, LIPS] for t in tgts]))), flush=True)
    round_pose = None
    if a.round_decision > 0:
        if not a.lips:
            sys.exit('train: --round-decision needs --lips')
        nout = NT + 2
        tgts = [np.concatenate([t, round_target(t)[:, None]], 1) for t in tgts]
        on = np.concatenate([t[t[:, ROUND] > 0.5, 2:4] for t in tgts])
        round_pose = np.median(on, 0).astype(np.float32)
        print('round target: %.2f%% of hops, pose funnel %.3f pucker %.3f' % (
            100 * len(on) / sum(len(t) for t in tgts), *round_pose), flush=True)
    if a.vowel_weight > 0:  # the vowel opening floor rides after the outputs' columns
        tgts = [np.concatenate([t, vowel_floor(u['phones'], t, *a.vowel_open)[:, None]], 1)
                for t, u in zip(tgts, keep)]
        vf = np.concatenate([t[:, nout] for t in tgts])
        print('vowel floor: %.2f%% of hops, mean floor %.3f' % (
            100 * np.mean(vf > 0), vf[vf > 0].mean()), flush=True)
    LW = nout + (1 if a.vowel_weight > 0 else 0)  # the closure weight's column (--lips-short)
    if a.lips_short > 0:
        if not a.lips:
            sys.exit('train: --lips-short needs --lips')
        tgts = [np.concatenate([t, lips_short_weight(u['phones'], len(t), a.lips_short)[:, None]],
                               1) for t, u in zip(tgts, keep)]
    if a.aux_weight > 0:  # the viseme class rides as the last target column
        tgts = [np.concatenate([t, vis_target(u['phones'], len(t))[:, None]], 1)
                for t, u in zip(tgts, keep)]
    VF = nout  # the vowel floor's column (when --vowel-weight)
    ncol = nout + (1 if a.vowel_weight > 0 else 0) + (1 if a.lips_short > 0 else 0) + (
        1 if a.aux_weight > 0 else 0)
    is_esp = np.array([int(u['voice']) < 100 for u in keep])
    floor_ok = np.array([int(u['voice']) < 100 and not (int(u['flags']) & 256) for u in keep])
    # Each utterance's loud-speech level, the reference of its noise floors (once, not per crop).
    loud = [bg.loud_level(f) if ok else 0.0 for f, ok in zip(feats, floor_ok)]
    factor = {int(k): float(v) for k, v in (o.split(':') for o in a.oversample)}
    draw_w = np.array([factor.get(int(u['lang']), 1.0) for u in keep])
    if a.espeak_share > 0 and is_esp.any() and (~is_esp).any():
        draw_w[is_esp] *= a.espeak_share / draw_w[is_esp].sum()
        draw_w[~is_esp] *= (1 - a.espeak_share) / draw_w[~is_esp].sum()
    print('espeak utterances %d, others %d (voices %s)' % (
        is_esp.sum(), (~is_esp).sum(), sorted({int(u['voice']) for u in keep})), flush=True)
    allf = np.concatenate(feats)
    mean = allf.mean(0).astype(np.float32)
    std = (allf.std(0) + 1e-3).astype(np.float32)
    init = load_blob(a.init) if a.init else None
    if init is not None:
        mean, std = init['feat.mean'], init['feat.std']
    # The running mean starts from the warm start's, else the training set's mean speech hop.
    cmn_init = None
    if a.cmn and init is not None and 'cmn.init' in init:
        cmn_init = init['cmn.init']
    elif a.cmn:
        cmn_init = np.concatenate([f[t[:len(f), VOICE] > 0.5] for f, t in zip(feats, tgts)]).mean(
            0).astype(np.float32)
    nin = 2 * allf.shape[1] if a.cmn else allf.shape[1]
    nmel = allf.shape[1]
    print('utterances %d, hops %d' % (len(feats), len(allf)), flush=True)
    del allf

    # Hold out 3% of the training utterances to watch over-fitting.
    idx = rng.permutation(len(feats))
    nval = max(8, len(feats) // 33)
    val, tr = idx[:nval], idx[nval:]

    tr_p = draw_w[tr] / draw_w[tr].sum()
    M, C = a.lookahead, a.crop
    def mask_flag(name, val, maxw):
        if not val:
            return 0, 0, 0.0
        try:
            c_, w_, p_ = val.split(':')
            c_, w_, p_ = int(c_), int(w_), float(p_)
        except ValueError:
            sys.exit('train: --%s wants COUNT:WIDTH:PROB, e.g. 2:4:0.5' % name)
        if c_ < 1 or not 1 <= w_ <= maxw or not 0 < p_ <= 1:
            sys.exit('train: --%s %s out of range' % (name, val))
        return c_, w_, p_
    def gain_flag(name, val):
        if not val:
            return 0.0, 0.0
        try:
            d_, p_ = (float(v) for v in val.split(':'))
        except ValueError:
            sys.exit('train: --%s wants DB:PROB, e.g. 12:0.5' % name)
        if not 0 < d_ <= 30 or not 0 < p_ <= 1:
            sys.exit('train: --%s %s out of range (0 < DB <= 30, 0 < PROB <= 1)' % (name, val))
        return d_, p_
    bb_db, bb_prob = gain_flag('bar-boost', a.bar_boost)
    lg_db, lg_prob = gain_flag('low-gain', a.low_gain)
    spans = [bilabial_spans(u['phones']) for u in keep] if bb_prob > 0 else None
    fm_count, fm_width, fm_prob = mask_flag('freq-mask', a.freq_mask, nmel // 2)
    tm_count, tm_width, tm_prob = mask_flag('time-mask', a.time_mask, C // 4)
    w = torch.ones(NT)
    w[0] = 3.0  # jaw
    w[1] = a.close_weight  # close
    w[2] = w[3] = a.round_weight  # funnel, pucker
    w[7] = 2.0  # press

    # The rest pose: the median target of the first hop of the utterances (before speech).
    rest = np.median(np.stack([t[0] for t in tgts]), 0).astype(np.float32)
    rest[VOICE] = 0
    if a.lips:
        rest[LIPS] = 0
    if a.round_decision > 0:
        rest[ROUND] = 0
    if a.vowel_weight > 0:
        rest[VF] = 0
    if a.lips_short > 0:
        rest[LW] = 1
    print('rest target', np.round(rest, 3).tolist(), flush=True)
    gap_rest = rest.copy()
    if a.aux_weight > 0:
        gap_rest[-1] = 0  # the viseme class of a pause: silence

    def with_bg(f, t):
        """A crop (features C + M hops, targets C hops) that is, or has, a background."""
        if rng.random() < 0.25:
            return bg.random_bg(rng, C + M), np.tile(rest, (C, 1)), f[:0]
        k = int(rng.integers(30, C // 2))
        g = bg.random_bg(rng, k)
        if rng.random() < 0.5:  # background, then the start of the utterance
            xs = np.concatenate([g, f[:C + M - k]])
            ys = np.concatenate([np.tile(rest, (k, 1)), t[:C - k]])
            return xs, ys, f[:0]
        # the end of the utterance, then background
        m = min(len(f), C + M - k)
        xs = np.concatenate([f[len(f) - m:], g])
        ys = np.concatenate([t[len(t) - m:], np.tile(rest, (k, 1))])[:C]
        return xs, ys, f[max(0, len(f) - m - CMN_PRE):len(f) - m]

    # --steady: each vowel viseme's median target row over the data's voiced hops of it.
    vowel_rows = {}
    if a.steady > 0:
        vis = [t[:, -1] if a.aux_weight > 0 else vis_target(u['phones'], len(t))
               for t, u in zip(tgts, keep)]
        for v in bg.VOWEL_FORMANTS:
            rows = np.concatenate([t[(c == v) & (t[:, VOICE] > 0.5)] for t, c in zip(tgts, vis)])
            if len(rows) < 100:
                sys.exit('train: --steady needs voiced hops of viseme %d in the data' % v)
            vowel_rows[v] = np.median(rows, 0).astype(np.float32)
            if a.aux_weight > 0:
                vowel_rows[v][-1] = v
        del vis
        print('steady vowels: jawOpen targets %s' % {v: round(float(r[0]), 3)
                                                     for v, r in vowel_rows.items()}, flush=True)

    def steady_crop():
        """A crop of held vowels (bg.held_vowels) at -35..-10 dBFS over a noise floor, with the
        running mean's prefix made of the same sound. With probability 0.3 the voice starts
        inside the crop (rest before), with 0.3 it stops inside it (a 3-hop ramp to rest, as
        noisy_gap). Returns (features C + M hops, targets C hops, the prefix's features)."""
        P = CMN_PRE if a.cmn else 0
        H = P + C + M
        n = (H - 1) * bg.HOP + bg.WIN
        on = P + int(rng.integers(5, C // 2)) if rng.random() < 0.3 else 0
        off = H
        if rng.random() < 0.3 and max(on + 30, P + C // 2) < P + C:  # vowels of >= 30 hops
            off = int(rng.integers(max(on + 30, P + C // 2), P + C))
        ns = min(int(rng.integers(1, 4)), max(1, (off - on) // 60))  # vowels of >= ~0.5 s
        cuts = [on + (off - on) * k // ns + int(rng.integers(-10, 11)) for k in range(1, ns)]
        seq = []
        for _ in range(len(cuts) + 1):
            seq.append(int(rng.choice([v for v in bg.VOWEL_FORMANTS if not seq or v != seq[-1]])))
        segs = [(bg.random_formants(rng, v), h) for v, h in zip(seq, [on] + cuts)]
        x = bg.held_vowels(rng, n, segs) * 10 ** (rng.uniform(-35.0, -10.0) / 20)
        env = np.interp(np.arange(n), [on * bg.HOP, (on + 3) * bg.HOP, off * bg.HOP,
                                       (off + 2) * bg.HOP], [0, 1, 1, 0])
        kind = bg.GAP_KINDS[rng.integers(len(bg.GAP_KINDS))]
        x = x * env + bg.noise(rng, kind, n, rng.uniform(-95.0, -60.0))
        feat = bg.logmel(x)
        y = np.tile(gap_rest, (H, 1)).astype(np.float32)
        bounds = [on] + cuts + [off]
        for k, v in enumerate(seq):
            y[bounds[k]:bounds[k + 1]] = vowel_rows[v]
        for c in cuts:  # the mouth moves from one vowel to the next over 6 hops
            lo, hi = max(on, c - 3), min(off, c + 3)
            r = (np.arange(lo, hi) - lo + 0.5)[:, None] / (hi - lo)
            y[lo:hi] = (1 - r) * y[lo - 1] + r * y[hi]
            if a.aux_weight > 0:  # the class switches at the cut
                y[lo:c, -1], y[c:hi, -1] = y[lo - 1, -1], y[hi, -1]
        if off < H:
            r = min(3, H - off)
            k_ = (np.arange(1, r + 1) / (r + 1))[:, None]
            y[off:off + r, :VOICE] = (1 - k_) * y[off - 1, :VOICE] + k_ * gap_rest[:VOICE]
        return feat[P:], y[P:P + C], feat[:P]

    W = a.burn_in

    def batch(ids):
        # A row is [burn-in: k hops, no loss][crop: C + M hops of features, C hops of targets]
        # with k = 0..W (0 unless a plain speech crop starts after its utterance's first hop).
        B = len(ids)
        R = np.full((B, W + C + M, nmel), np.log(1e-7), np.float32)  # silence past the end
        P = np.full((B, CMN_PRE, nmel), np.log(1e-7), np.float32)  # what the mean heard before
        Pv = np.zeros((B, CMN_PRE), bool)
        Y = np.zeros((B, W + C, ncol), np.float32)
        Mk = np.zeros((B, W + C), np.float32)
        for b, i in enumerate(ids):
            f, t = feats[i], tgts[i]
            n = len(f)
            s = rng.integers(0, max(1, n - C - M)) if n > C + M else 0
            k = int(min(W, s))
            xs = f[s - k:s + C + M]
            ys = t[s:s + C]
            pre = f[max(0, s - k - CMN_PRE):s - k]
            gmask = None
            plain = True  # the crop is the utterance's own hops s.. (no background spliced in)
            if a.steady > 0 and rng.random() < a.steady:
                xs, ys, pre = steady_crop()
                plain, k = False, 0
            elif a.silence > 0 and rng.random() < a.silence:
                xs, ys, pre = with_bg(f, t)
                plain, k = False, 0
            elif a.gap > 0 and rng.random() < a.gap:
                j = int(rng.integers(len(feats))) if rng.random() < 0.6 else None
                g = bg.noisy_gap(rng, f, t, None if j is None else feats[j],
                                 None if j is None else tgts[j], C + M, VOICE, gap_rest,
                                 tone=a.gap_tone)
                if g is not None:
                    xs, ys, pre = g[0], g[1][:C], f[:0]
                    gmask = g[2][:C]
                    plain, k = False, 0
            if bb_prob > 0 and plain and rng.random() < bb_prob:
                xs = closure_boost(rng, xs, spans[i], s - k, bb_db)
            if lg_prob > 0 and rng.random() < lg_prob:
                xs, pre = low_gain(rng, xs, pre, lg_db)
            if floor_ok[i] and rng.random() < a.noise_floor:
                # A flat noise floor 40-65 dB under the band-averaged loud-speech power
                # (power adds), so espeak-ng's digital zeros are never a cue.
                lvl = loud[i] - rng.uniform(40, 65) / 10 * np.log(10)
                nf = lvl + rng.normal(0, 0.5, size=(1, nmel))
                xs = np.logaddexp(xs, nf)
                pre = np.logaddexp(pre, nf)
            R[b, :len(xs)] = xs
            if a.cmn and len(pre):
                P[b, CMN_PRE - len(pre):] = pre
                Pv[b, CMN_PRE - len(pre):] = True
            Y[b, k:k + len(ys)] = ys
            Mk[b, k:k + len(ys)] = 1 if gmask is None else gmask
        X = (R - mean) / std
        if a.cmn:
            ema = np.tile(cmn_init, (B, 1))
            peak = np.full(B, CMN_ABS, np.float32)
            cmn_run(P, ema, peak, cmn_params(), Pv)
            X = np.concatenate([X, cmn_run(R, ema, peak, cmn_params()) / std], 2)
        if fm_prob > 0:
            for b in range(B):
                if rng.random() < fm_prob:
                    m = freq_masks(rng, nmel, fm_count, fm_width)
                    X[b][:, np.tile(m, X.shape[2] // nmel)] = 0
        if tm_prob > 0:
            for b in range(B):
                if rng.random() < tm_prob:
                    X[b][time_masks(rng, X.shape[1], tm_count, tm_width)] = 0
        return torch.from_numpy(X), torch.from_numpy(Y), torch.from_numpy(Mk)

    net = Net(nin, a.hidden, M, nout, NVIS if a.aux_weight > 0 else 0)
    if init is not None:
        src = state_from_blob(init)
        if src['conv.weight'].shape[1] < nin:  # new cmn inputs: zero weights, same function
            cw = torch.zeros(src['conv.weight'].shape[0], nin, 3)
            cw[:, :src['conv.weight'].shape[1]] = src['conv.weight']
            src['conv.weight'] = cw
        elif src['conv.weight'].shape[1] > nin:
            sys.exit('train: --init has the cmn inputs; pass --cmn')
        h0 = src['conv.bias'].shape[0]
        if h0 != a.hidden:
            src = grow(src, net.state_dict(), h0, a.hidden)
        n0 = src['out.weight'].shape[0]
        if n0 < nout:  # new decision outputs (closure, rounding) start at "no"
            ow = torch.zeros(nout, a.hidden)
            ow[:n0] = src['out.weight']
            ob = torch.full((nout,), -4.0)
            ob[:n0] = src['out.bias']
            src['out.weight'], src['out.bias'] = ow, ob
        if a.aux_weight > 0:  # the auxiliary head starts fresh
            fresh = net.state_dict()
            src['aux.weight'], src['aux.bias'] = fresh['aux.weight'], fresh['aux.bias']
        net.load_state_dict(src)
        print('warm start from %s (hidden %d -> %d)' % (a.init, h0, a.hidden), flush=True)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    bce = torch.nn.BCEWithLogitsLoss(reduction='none')

    def loss_of(X, Y, Mk):
        if a.aux_weight > 0:
            out, ax = net(X, True)
            out, ax = out[:, M:M + Y.shape[1]], ax[:, M:M + Y.shape[1]]
        else:
            out = net(X)[:, M:M + Y.shape[1]]
        p = torch.sigmoid(out)
        mse = ((p[..., :VOICE] - Y[..., :VOICE]) ** 2 * w[:VOICE]).sum(-1)
        if a.rest_weight != 1.0:  # pauses: the mouth rests
            mse = mse * torch.where(Y[..., VOICE] < 0.5, a.rest_weight, 1.0)
        v = bce(out[..., VOICE], Y[..., VOICE])
        if a.lips:
            lb = bce(out[..., LIPS], Y[..., LIPS])
            if a.lips_short > 0:
                lb = lb * Y[..., LW]
            mse = mse + a.lips_weight * lb
        if a.round_decision > 0:
            mse = mse + a.round_decision * bce(out[..., ROUND], Y[..., ROUND])
        if a.open_weight > 0:  # the lip opening the evaluation judges closure by
            mse = mse + a.open_weight * ((p[..., 0] - p[..., 1]) - (Y[..., 0] - Y[..., 1])) ** 2
        if a.vowel_weight > 0:  # vowels: a one-sided hinge on the opening
            short = torch.relu(Y[..., VF] - (p[..., 0] - p[..., 1])) * (Y[..., VF] > 0)
            mse = mse + a.vowel_weight * short ** 2
        if a.aux_weight > 0:
            ce = torch.nn.functional.cross_entropy(ax.reshape(-1, NVIS), Y[..., -1].long().reshape(
                -1), reduction='none').reshape(Mk.shape)
            mse = mse + a.aux_weight * ce
        return ((mse + 0.3 * v) * Mk).sum() / Mk.sum()

    def export():
        """Writes the blob of the current weights to a.out (atomically) and returns it."""
        sd = {k: v.detach().numpy().astype(np.float32) for k, v in net.state_dict().items()}
        meta = np.array([nmel, a.hidden, nout, M, 3], np.float32)
        recs = [('meta', meta), ('feat.mean', mean), ('feat.std', std),
                ('conv.w', sd['conv.weight'].transpose(0, 2, 1).copy()),
                ('conv.b', sd['conv.bias']),
                ('gru.w_ih', sd['gru.weight_ih_l0']), ('gru.w_hh', sd['gru.weight_hh_l0']),
                ('gru.b_ih', sd['gru.bias_ih_l0']), ('gru.b_hh', sd['gru.bias_hh_l0']),
                ('out.w', sd['out.weight']), ('out.b', sd['out.bias'])]
        if a.cmn:
            recs += [('cmn', cmn_params()), ('cmn.init', cmn_init)]
        if round_pose is not None:
            recs.append(('round.pose', round_pose))
        b = blob(recs)
        with open(a.out + '.tmp', 'wb') as f:
            f.write(b)
        os.replace(a.out + '.tmp', a.out)
        return b

    t0 = time.time()
    budget = a.minutes * 60
    if a.end_by:
        hh, mm = (int(x) for x in a.end_by.split(':'))
        lt = time.localtime(t0)
        end = time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, hh, mm, 0, 0, 0, -1))
        if end <= t0:  # a time already past today means tomorrow (a run across midnight)
            end = time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday + 1, hh, mm, 0, 0, 0, -1))
        budget = min(budget, end - t0)
        print('training %.1f minutes (until %s)' % (budget / 60, a.end_by), flush=True)
    nck = 0
    step = 0
    next_ckpt = a.checkpoint_minutes * 60 if a.checkpoint_minutes > 0 else float('inf')
    while time.time() - t0 < budget:
        if time.time() - t0 >= next_ckpt:  # a session can end without warning
            b = export()
            if a.ckpt_dir:
                nck += 1
                os.makedirs(a.ckpt_dir, exist_ok=True)
                cp = os.path.join(a.ckpt_dir, 'ckpt_%03d.akmw' % nck)
                with open(cp + '.tmp', 'wb') as f:
                    f.write(b)
                os.replace(cp + '.tmp', cp)
            print('checkpoint %s at step %d' % (a.out, step), flush=True)
            next_ckpt += a.checkpoint_minutes * 60
        frac = (time.time() - t0) / budget
        for g in opt.param_groups:
            g['lr'] = a.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        ids = rng.choice(tr, a.batch, p=tr_p)
        X, Y, Mk = batch(ids)
        loss = loss_of(X, Y, Mk)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 200 == 0:
            with torch.no_grad():
                vl = loss_of(*batch(val[:64])).item()
            print('step %d  %.0fs  train %.4f  val %.4f' % (step, time.time() - t0, loss.item(),
                                                           vl), flush=True)

    b = export()
    if a.ckpt_dir:
        cp = os.path.join(a.ckpt_dir, 'ckpt_%03d.akmw' % (nck + 1))
        with open(cp, 'wb') as f:
            f.write(b)
    print('wrote %s (%d bytes) after %d steps' % (a.out, len(b), step), flush=True)

    if a.fixture:
        # Fixed input: the first 120 hops of a training utterance (raw log-mel) and the
        # sigmoid outputs of the network run from a zero state, step by step.
        f = feats[0][:120].astype(np.float32)
        with torch.no_grad():
            x = net_input(f, load_blob(a.out))
            out = torch.sigmoid(net(torch.from_numpy(x)[None]))[0].numpy()
        with open(a.fixture, 'wb') as fx:
            fx.write(b'AKFX' + struct.pack('<3I', len(f), nmel, nout))
            fx.write(f.astype('<f4').tobytes())
            fx.write(out.astype('<f4').tobytes())
        print('wrote fixture %s' % a.fixture, flush=True)


if __name__ == '__main__':
    main()
