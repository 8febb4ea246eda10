#!/usr/bin/python3
"""Concatenates AKDS shards (same header) into one: cat_akds.py OUT IN..."""
import sys

out, ins = sys.argv[1], sys.argv[2:]
head = None
with open(out, 'wb') as f:
    for p in ins:
        d = open(p, 'rb').read()
        if d[:4] != b'AKDS':
            sys.exit('not AKDS: %s' % p)
        if head is None:
            head = d[:16]
            f.write(head)
        elif d[:16] != head:
            sys.exit('header differs: %s' % p)
        f.write(d[16:])
