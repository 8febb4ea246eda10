#!/usr/bin/python3
"""Lip-opening correlation by position in the stream (issue 11, stage 32).

For each network blob given, runs its main network (PyTorch, the engine's arithmetic without
the engine's smoothing, voice gate or closure decision) over utterances of AKDS shards and
prints the Pearson r of the opening (jawOpen - mouthClose) against the targets on voiced hops,
by the hop's position in its utterance. Two ways to start each utterance:
  cold  the utterance is a stream of its own (the GRU starts from zero at its first hop);
  warm  the previous utterance of the same voice in the shard is played first, so the GRU has
        heard that speaker for seconds (the engine never resets its state within a stream).
If warm beats cold, a network uses what it heard of a speaker; if the first hops score lower
either way, the cause is the onset of speech, not the state.

  /usr/bin/python3 tools/eval/onset_r.py --blob models/default.akmw --max 400 \
      $T/valid2_al.bin
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'train'))
import akds  # noqa: E402
import train  # noqa: E402

BINS = [(0, 50), (50, 100), (100, 200), (200, 400), (400, None)]


def opening_pairs(net, d, shards, limit):
    """{'cold': [...], 'warm': [...]} of (predicted opening, target opening, voiced, position)
    per utterance (warm only for utterances with an earlier one of the same voice)."""
    M = int(d['meta'][3])
    out = {'cold': [], 'warm': []}
    for p in shards:
        prev = {}
        for u in akds.read(p)[:limit]:
            f, t, v = u['feat'], u['target'], int(u['voice'])
            runs = [('cold', f, 0)]
            if v in prev:
                runs.append(('warm', np.concatenate([prev[v], f]), len(prev[v])))
            for mode, x, off in runs:
                with torch.no_grad():
                    o = torch.sigmoid(net(torch.from_numpy(train.net_input(x, d))[None]))[0]
                o = o.numpy()[off + M:off + M + len(t)]
                n = min(len(o), len(t))
                out[mode].append((o[:n, 0] - o[:n, 1], t[:n, 0] - t[:n, 1],
                                  t[:n, train.VOICE] > 0.5, np.arange(n)))
            prev[v] = f
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--blob', action='append', required=True, help='a network blob (repeatable)')
    ap.add_argument('--max', type=int, default=400, help='utterances per shard (from its start)')
    ap.add_argument('shards', nargs='+')
    a = ap.parse_args()
    torch.set_num_threads(1)
    for path in a.blob:
        d = train.load_blob(path)
        net = train.net_of_blob(d).eval()
        for mode, rows in opening_pairs(net, d, a.shards, a.max).items():
            if not rows:
                continue
            P, T, V, I = (np.concatenate([r[k] for r in rows]) for k in range(4))
            cells = []
            for lo, hi in BINS:
                m = V & (I >= lo) & (I < (hi if hi is not None else len(I) + 1))
                r = np.corrcoef(P[m], T[m])[0, 1] if m.sum() > 2 else float('nan')
                cells.append('%s: r %.3f (%d hops)' % (
                    '%d-%d' % (lo, hi) if hi else '%d-' % lo, r, m.sum()))
            allv = np.corrcoef(P[V], T[V])[0, 1]
            print('%s %s all %.3f | %s' % (path, mode, allv, ' | '.join(cells)), flush=True)


if __name__ == '__main__':
    main()
