"""Per-hop training targets derived from an utterance's phone labels (tools/train/train.py),
kept free of torch so that the tests can check them on a machine without the training
packages. Phones are (start s, end s, viseme id, class) rows; hops are 10 ms, a hop's centre
at (i + 0.5) x 10 ms."""
import numpy as np

VIS_PP = 1  # the viseme of /p b m/ (tools/train/phones.h)
VIS_AA, VIS_UC = 10, 15  # the vowel visemes aa..uc (tools/train/phones.h)
NVIS = 16  # AK_VIS_COUNT (tools/train/phones.h)


def vis_target(phones, n_hops):
    """The viseme id (tools/train/phones.h, 0 = silence) of the phone under each hop's centre."""
    y = np.zeros(n_hops, np.float32)
    tc = (np.arange(n_hops) + 0.5) * 0.01
    for st, en, vis, _ in phones:
        y[(tc >= st) & (tc < en)] = int(vis)
    return y


def bilabial_hops(phones, n_hops, edge=0.2):
    """For each /p b m/ (viseme PP) phone, the mask of the hops whose centre lies in its
    middle, leaving out `edge` of its duration at either end: the closure target's hops."""
    tc = (np.arange(n_hops) + 0.5) * 0.01
    for st, en, vis, _ in phones:
        if int(vis) == VIS_PP:
            d = en - st
            yield (tc >= st + edge * d) & (tc <= en - edge * d)


def lips_target(phones, n_hops, edge=0.2):
    """1 at the closure target's hops (bilabial_hops), else 0."""
    y = np.zeros(n_hops, np.float32)
    for sel in bilabial_hops(phones, n_hops, edge):
        y[sel] = 1
    return y


ROUND_THR = 0.7  # rounding decision: the targets' funnel + pucker at least this


def round_target(target, thr=ROUND_THR):
    """The rounding decision's target (train.py --round-decision): 1 at the voiced hops whose
    target lips are rounded (min(1, mouthFunnel + mouthPucker) >= thr: the middle of
    /u o w/-like vowels and the consonants coarticulated with them), else 0. target: hops x
    the data's 14 channels."""
    r = np.minimum(1.0, target[:, 2] + target[:, 3])
    return ((r >= thr) & (target[:, 13] > 0.5)).astype(np.float32)


def lips_short_weight(phones, n_hops, k, edge=0.2):
    """Per-hop weights of the closure decision's loss: k / (the phone's hops in lips_target)
    at the hops of a /p b m/, at least 1; 1 elsewhere. Each bilabial then weighs about the
    same whatever its length: a 30 ms /b/ inside a cluster has one or two target hops, a
    120 ms /m/ seven, and the evaluation counts each phone once."""
    y = np.ones(n_hops, np.float32)
    for sel in bilabial_hops(phones, n_hops, edge):
        n = int(sel.sum())
        if n:
            y[sel] = max(1.0, k / n)
    return y


def vowel_floor(phones, target, frac=0.7, rel=0.35):
    """Per hop, the least lip opening (jawOpen - mouthClose) a vowel should show, else 0: at
    hops whose centre lies in the central half of a vowel phone (viseme aa..uc, >= 30 ms: the
    vowels tools/eval's false-closure count judges), max(frac x the target opening there, rel
    x the 95th percentile of the target opening over the utterance). The evaluation counts a
    vowel as falsely closed when the opening dips below a quarter of its own 95th percentile
    anywhere in that central half; the coarticulated targets themselves dip there next to
    /p b m/ (the bilabials' closure dominance reaches into short vowels), so the floor is
    not only relative to the target."""
    n = len(target)
    y = np.zeros(n, np.float32)
    if n == 0:
        return y
    op = target[:, 0] - target[:, 1]
    lo = rel * float(np.percentile(op, 95))
    tc = (np.arange(n) + 0.5) * 0.01
    for st, en, vis, _ in phones:
        if VIS_AA <= int(vis) <= VIS_UC and en - st >= 0.03:
            q = 0.25 * (en - st)
            m = (tc >= st + q) & (tc <= en - q)
            y[m] = np.maximum(frac * op[m], lo)
    return y


def freq_masks(rng, nmel, count, width):
    """SpecAugment-style frequency masks for one training crop (train.py --freq-mask): up to
    `count` bands of 1..`width` adjacent mel channels each, drawn independently (they may
    overlap). Returns a boolean vector over the nmel channels, True where the crop's inputs
    are replaced by their mean (0 after standardisation) for the whole crop: the network
    cannot lean on one spectral region (espeak-ng's deep 0.4-1 kHz nasal trough was such a
    cue) and has to hear the other cues of the same phone."""
    return _runs(rng, nmel, count, width)


def time_masks(rng, nframes, count, width):
    """SpecAugment-style time masks for one training crop (train.py --time-mask): up to
    `count` runs of 1..`width` frames, True where every input of the frame is replaced by
    its mean while the targets stay: a closure or a vowel has to be heard from the
    transitions into and out of it as well as from its own sound."""
    return _runs(rng, nframes, count, width)


def _runs(rng, n, count, width):
    m = np.zeros(n, bool)
    for _ in range(count):
        w = int(rng.integers(1, width + 1))
        s = int(rng.integers(0, n - w + 1))
        m[s:s + w] = True
    return m


# Mel channels (engine/mel.c: 32 bands, 50-7800 Hz) under about 600 Hz, where a voice bar or a
# nasal murmur sits, and the share of a closure boost each one takes (centres 107, 169, 235,
# 307, 383, 466, 555 and 651 Hz).
BAR_SHAPE = np.array([1, 1, 1, 1, 1, 0.8, 0.5, 0.25], np.float32)


def bilabial_spans(phones):
    """The hop ranges [h0, h1) that the /p b m/ phones cover (hop i spans i..i+1 x 10 ms)."""
    return [(int(np.floor(st * 100)), int(np.ceil(en * 100)))
            for st, en, vis, _ in phones if int(vis) == VIS_PP and en > st]


def closure_boost(rng, x, spans, first, max_db):
    """Voice-bar augmentation (train.py --bar-boost): x (hops x mel channels of natural-log
    power, a crop whose first hop is the utterance's hop `first`) gets, over each /p b m/ in
    spans, its own gain of 0..max_db dB on the channels under 600 Hz (BAR_SHAPE), ramped over
    one hop at either end. A gain, not added energy: a silent voiceless closure stays silent,
    while a voiced /b/ or an /m/ gets the louder, wider low band that some voices have (a
    voice bar reaching 600 Hz), so low-band energy alone does not read as an open mouth.
    Returns a new array; x is not changed."""
    y = x.copy()
    n = len(y)
    k = min(len(BAR_SHAPE), y.shape[1])
    for h0, h1 in spans:
        a, b = h0 - first, h1 - first
        if b <= 0 or a >= n:
            continue
        g = rng.uniform(0, max_db) / 10 * np.log(10)  # dB -> natural-log power
        env = np.ones(b - a, np.float32)
        env[0] = env[-1] = 0.5
        lo, hi = max(a, 0), min(b, n)
        y[lo:hi, :k] += g * env[lo - a:hi - a, None] * BAR_SHAPE[None, :k]
    return y


def low_gain(rng, xs, pre, max_db):
    """Low-band augmentation (train.py --low-gain): one gain of -max_db..+max_db dB on the
    channels under 600 Hz (BAR_SHAPE) for a whole crop xs and the hops before it that a
    running mean heard (pre), both hops x mel channels of natural-log power. Returns new
    arrays; the inputs are not changed."""
    g = rng.uniform(-max_db, max_db) / 10 * np.log(10) * BAR_SHAPE
    k = min(len(g), xs.shape[1])
    xs, pre = xs.copy(), pre.copy()
    xs[:, :k] += g[:k]
    pre[:, :k] += g[:k]
    return xs, pre
