#!/usr/bin/python3
"""Writes the C test's fixture for a network of a weights blob (engine/model.c layout): the
first 120 hops of the first utterance of an AKDS shard (raw log-mel) and the PyTorch sigmoid
outputs of the network run over them from a zero state (what train.py --fixture writes, for a
checkpoint picked after training).

  /usr/bin/python3 tools/train/fixture.py --model models/default.akmw [--prefix ll.] \
      --shard data.bin --out tests/engine/data/nn_fixture.bin
"""
import argparse
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import akds  # noqa: E402
import train  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', required=True)
    ap.add_argument('--prefix', default='')
    ap.add_argument('--shard', required=True)
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    d = {k[len(a.prefix):]: v for k, v in train.load_blob(a.model).items()
         if k.startswith(a.prefix) and (a.prefix or not k.startswith('ll.'))}
    nmel, hidden, nt, la = (int(x) for x in d['meta'][:4])
    net = train.net_of_blob(d)
    f = akds.read(a.shard)[0]['feat'][:120].astype(np.float32)
    with torch.no_grad():
        x = torch.from_numpy(train.net_input(f, d))[None]
        out = torch.sigmoid(net(x))[0].numpy()
    with open(a.out, 'wb') as fx:
        fx.write(b'AKFX' + struct.pack('<3I', len(f), nmel, nt))
        fx.write(f.astype('<f4').tobytes())
        fx.write(out.astype('<f4').tobytes())
    print('wrote fixture %s (%s%s: hidden %d, look-ahead %d)' % (a.out, a.prefix, a.model,
                                                                  hidden, la))


if __name__ == '__main__':
    main()
