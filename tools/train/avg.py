#!/usr/bin/python3
"""Averages the weights of checkpoints of one training run (same shapes, same feature
normalisation) into one blob: a coarse stochastic weight average, which smooths the
checkpoint-to-checkpoint swings of a warm-started run (stage 10 saw the closure operating
point move by +-0.04 between checkpoints 4 minutes apart).

  /usr/bin/python3 tools/train/avg.py --out avg.akmw ckpt_004.akmw ckpt_005.akmw ...
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('ckpts', nargs='+')
    a = ap.parse_args()
    blobs = [train.load_blob(p) for p in a.ckpts]
    first = blobs[0]
    for p, b in zip(a.ckpts, blobs):
        if sorted(b) != sorted(first) or any(b[k].shape != first[k].shape for k in first):
            sys.exit('%s: records or shapes differ from %s' % (p, a.ckpts[0]))
        for k in ('meta', 'feat.mean', 'feat.std'):
            if not np.array_equal(b[k], first[k]):
                sys.exit('%s: %s differs from %s' % (p, k, a.ckpts[0]))
    out = [(k, np.mean([b[k] for b in blobs], 0).astype(np.float32)) for k in first]
    with open(a.out + '.tmp', 'wb') as f:
        f.write(train.blob(out))
    os.replace(a.out + '.tmp', a.out)
    print('wrote %s: mean of %d checkpoints' % (a.out, len(blobs)))


if __name__ == '__main__':
    main()
