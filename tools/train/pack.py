#!/usr/bin/python3
"""Packs the main network and the zero-lookahead network into one AKMW blob: the main
network's records as they are, the low-latency one's under the "ll." prefix (the engine
binds it when the configured lookahead is shorter than the main network needs).

  /usr/bin/python3 tools/train/pack.py --main v4.akmw --lowlat ll1.akmw --out models/default.akmw \
      [--lips-thr LO HI] [--ll-lips-thr LO HI] [--round-thr LO HI] [--ll-round-thr LO HI] \
      [--quiet-db REL SPAN] [--ll-quiet-db REL SPAN]

--lips-thr / --ll-lips-thr set the closure decision's smoothstep edges ("lips.thr" record,
engine/engine_nn.h) of a network that has the decision output (picked on the valid voices);
--round-thr / --ll-round-thr the rounding decision's ("round.thr"). --quiet-db / --ll-quiet-db
give a network the quiet gate ("quiet.db": the mouth rests where the sound stays more than REL
dB under the stream's running speech level, fully at REL + SPAN).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--main', required=True)
    ap.add_argument('--lowlat', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--lips-thr', nargs=2, type=float, metavar=('LO', 'HI'))
    ap.add_argument('--ll-lips-thr', nargs=2, type=float, metavar=('LO', 'HI'))
    ap.add_argument('--round-thr', nargs=2, type=float, metavar=('LO', 'HI'))
    ap.add_argument('--ll-round-thr', nargs=2, type=float, metavar=('LO', 'HI'))
    ap.add_argument('--quiet-db', nargs=2, type=float, metavar=('REL', 'SPAN'))
    ap.add_argument('--ll-quiet-db', nargs=2, type=float, metavar=('REL', 'SPAN'))
    a = ap.parse_args()
    m, ll = train.load_blob(a.main), train.load_blob(a.lowlat)
    for net, thr, nt, rec in ((m, a.lips_thr, train.NT + 1, 'lips.thr'),
                              (ll, a.ll_lips_thr, train.NT + 1, 'lips.thr'),
                              (m, a.round_thr, train.NT + 2, 'round.thr'),
                              (ll, a.ll_round_thr, train.NT + 2, 'round.thr')):
        if thr:
            if int(net['meta'][2]) < nt or not 0 <= thr[0] < thr[1] <= 1:
                sys.exit('pack: %s needs a network with that decision output, 0<=LO<HI<=1' % rec)
            net[rec] = np.array(thr, np.float32)
    for net, q in ((m, a.quiet_db), (ll, a.ll_quiet_db)):
        if q:
            if not (0 < q[0] <= 60 and 0 < q[1] <= 30):
                sys.exit('pack: quiet.db needs 0 < REL <= 60 and 0 < SPAN <= 30')
            net['quiet.db'] = np.array(q, np.float32)
    if any(k.startswith('ll.') for k in m) or any(k.startswith('ll.') for k in ll):
        sys.exit('pack: inputs must be single-network blobs')
    if ll['meta'][3] >= m['meta'][3]:
        sys.exit('pack: the low-latency network must look ahead less than the main one')
    recs = list(m.items()) + [('ll.' + k, v) for k, v in ll.items()]
    b = train.blob(recs)
    with open(a.out, 'wb') as f:
        f.write(b)
    print('wrote %s (%d bytes): main look-ahead %d hops, low-latency %d hops' %
          (a.out, len(b), int(m['meta'][3]), int(ll['meta'][3])))


if __name__ == '__main__':
    main()
