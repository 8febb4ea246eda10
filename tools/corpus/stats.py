#!/usr/bin/python3
"""Per-file counts of an AKDS corpus by family and voice: stats.py [--check] FILE...
--check: exit 1 if a file named train* holds a voice whose split (voices.tsv; espeak ids
50-99 are held out) is not train, or a file named valid*/test* holds a voice of another
split."""
import collections
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def voices():
    out = {}
    with open(os.path.join(HERE, 'voices.tsv')) as f:
        next(f)
        for line in f:
            vid, name, fam, lang, split = line.rstrip('\n').split('\t')
            out[int(vid)] = (name, fam, split)
    return out


def scan(path):
    """Yields (voice, flags, seconds) without loading features."""
    with open(path, 'rb') as f:
        h = f.read(16)
        if h[:4] != b'AKDS':
            raise ValueError(path)
        nmel, nt = struct.unpack('<2I', h[8:16])
        while True:
            b = f.read(28)
            if len(b) < 28:
                break
            magic, lang, voice, flags, ns, nh, nph = struct.unpack('<7I', b)
            skip = (4 * ns if flags & 1 else 0) + 16 * nph + 4 * nh * (nmel + nt)
            f.seek(skip, 1)
            yield voice, flags, ns / 16000.0


def split_of(vs, v):
    if v < 50:
        return 'train'
    if v < 100:
        return 'valid'
    return vs[v][2] if v in vs else '?'


def main():
    vs = voices()
    args = sys.argv[1:]
    check = '--check' in args
    args = [a for a in args if a != '--check']
    bad = 0
    for p in args:
        per = collections.Counter()
        sec = collections.Counter()
        fl = collections.Counter()
        base = os.path.basename(p)
        want = next((w for w in ('train', 'valid', 'test') if base.startswith(w)), None)
        for v, flags, s in scan(p):
            if check and want and per[v] == 0 and split_of(vs, v) != want:
                print('SPLIT VIOLATION: %s holds voice %d (%s)' % (base, v, split_of(vs, v)))
                bad += 1
            per[v] += 1
            sec[v] += s
            fl[flags & ~(2 | 4 | 32 | 128 | 256)] += 1
        fam = collections.Counter()
        for v, n in per.items():
            fam[vs.get(v, ('?', 'espeak' if v < 100 else '?', '?'))[1]] += n
        tot = sum(per.values())
        print('%s: %d utterances, %.2f h; families: %s' % (
            os.path.basename(p), tot, sum(sec.values()) / 3600,
            ', '.join('%s %d' % kv for kv in sorted(fam.items()))))
        print('  voices: ' + ', '.join('%s %d' % (vs.get(v, ('id%d' % v,))[0], n)
                                       for v, n in sorted(per.items())))
        print('  flags (audio/reverb/noise/telephone bits): ' +
              ', '.join('%d: %d' % kv for kv in sorted(fl.items())))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
