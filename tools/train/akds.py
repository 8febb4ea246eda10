"""Reader for the AKDS shards written by ak_gen_data (see gen.c for the layout)."""
import struct

import numpy as np


def read(path):
    """Returns a list of dicts: lang, voice, flags, n_samples, audio (or None), phones
    (N x 4 float: start, end, vis, cls), feat (hops x nmel), target (hops x nt)."""
    data = open(path, 'rb').read()
    if data[:4] != b'AKDS':
        raise ValueError('not an AKDS file: %s' % path)
    version, nmel, nt = struct.unpack_from('<3I', data, 4)
    if version != 1:
        raise ValueError('AKDS version %d' % version)
    off = 16
    out = []
    while off < len(data):
        magic, lang, voice, flags, ns, nh, nph = struct.unpack_from('<7I', data, off)
        if magic != 0x31545455:
            raise ValueError('bad utterance magic at %d' % off)
        off += 28
        audio = None
        if flags & 1:
            audio = np.frombuffer(data, '<f4', ns, off)
            off += 4 * ns
        ph = np.frombuffer(data, '<f4', nph * 4, off).reshape(nph, 4).copy()
        ph[:, 2:] = np.frombuffer(data, '<u4', nph * 4, off).reshape(nph, 4)[:, 2:]
        off += 16 * nph
        feat = np.frombuffer(data, '<f4', nh * nmel, off).reshape(nh, nmel)
        off += 4 * nh * nmel
        tgt = np.frombuffer(data, '<f4', nh * nt, off).reshape(nh, nt)
        off += 4 * nh * nt
        out.append(dict(lang=lang, voice=voice, flags=flags, n_samples=ns, audio=audio,
                        phones=ph, feat=feat, target=tgt))
    return out
