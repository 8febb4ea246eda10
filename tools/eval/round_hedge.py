#!/usr/bin/python3
"""How far a network's lip rounding falls short of its targets, by viseme (issue 11, stage 32).

For each blob given, runs its main network (PyTorch, without the engine's smoothing, voice
gate or decisions) over utterances of AKDS shards and prints, per vowel-like viseme (RR and
the vowels AA..UC), the mean over phones (>= 30 ms, their central half) of min(1, mouthFunnel +
mouthPucker) in the targets and in the network's output. A network that hedges sits under
the target on rounded vowels (O, U) and over it on spread ones (E, I): the gap a yes/no
decision is for. A network with the rounding decision (16th output) is shown as the engine
applies it: funnel and pucker moved towards round.pose by smoothstep(round.thr, p).

  /usr/bin/python3 tools/eval/round_hedge.py --blob models/default.akmw $T/valid2.bin
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'train'))
import akds  # noqa: E402
import train  # noqa: E402

NAMES = {9: 'RR', 10: 'AA', 11: 'E', 12: 'I', 13: 'O', 14: 'U', 15: 'UC'}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--blob', action='append', required=True, help='a network blob (repeatable)')
    ap.add_argument('--max', type=int, default=300, help='utterances per shard (from its start)')
    ap.add_argument('shards', nargs='+')
    a = ap.parse_args()
    torch.set_num_threads(1)
    utts = [u for p in a.shards for u in akds.read(p)[:a.max]]
    for path in a.blob:
        d = train.load_blob(path)
        net = train.net_of_blob(d).eval()
        M = int(d['meta'][3])
        acc = {}
        for u in utts:
            t = u['target']
            with torch.no_grad():
                o = torch.sigmoid(net(torch.from_numpy(train.net_input(u['feat'], d))[None]))[0]
            o = o.numpy()[M:M + len(t)].copy()
            if o.shape[1] > train.ROUND:  # engine/engine.c, the rounding decision
                lo, hi = d.get('round.thr', np.array([0.4, 0.6]))
                pose = d.get('round.pose', np.array([0.45, 0.45]))
                x = np.clip((o[:, train.ROUND] - lo) / (hi - lo), 0, 1)
                r = (x * x * (3 - 2 * x))[:, None]
                o[:, 2:4] += r * (np.maximum(o[:, 2:4], pose) - o[:, 2:4])
            n = min(len(o), len(t))
            tc = (np.arange(n) + 0.5) * 0.01
            for st, en, vis, _ in u['phones']:
                if int(vis) not in NAMES or en - st < 0.03:
                    continue
                q = (en - st) / 4
                sel = (tc >= st + q) & (tc <= en - q)
                if not sel.any():
                    continue
                cell = acc.setdefault(int(vis), ([], []))
                cell[0].append(np.minimum(1, t[:n][sel, 2] + t[:n][sel, 3]).mean())
                cell[1].append(np.minimum(1, o[sel, 2] + o[sel, 3]).mean())
        print(path + ': ' + ' | '.join('%s %d phones: target %.3f network %.3f' % (
            NAMES[v], len(acc[v][0]), np.mean(acc[v][0]), np.mean(acc[v][1]))
            for v in sorted(acc)), flush=True)


if __name__ == '__main__':
    main()
