"""Background (no speech) examples for training and checking the mouth model: digital zeros,
dither-level and low-level hiss (white, pink, brown), mains hum. Features are computed with a
numpy copy of the engine's front end (engine/mel.c: 25 ms Hann window, 512-point FFT, 32
triangular mel bands 50-7800 Hz, log(power + 1e-7)), so they match what the engine computes
on the same samples up to float rounding.
"""
import functools
import math

import numpy as np

SR, HOP, WIN, FFT, NMEL = 16000, 160, 400, 512, 32


def _mel_matrix():
    def hz_to_mel(f):
        return 2595.0 * math.log10(1.0 + f / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    lo, hi = hz_to_mel(50.0), hz_to_mel(7800.0)
    edges = [mel_to_hz(lo + (hi - lo) * b / (NMEL + 1)) * FFT / 16000.0 for b in range(NMEL + 2)]
    w = np.zeros((NMEL, FFT // 2 + 1))
    for b in range(NMEL):
        l, c, r = edges[b], edges[b + 1], edges[b + 2]
        s, e = max(0, math.ceil(l)), min(FFT // 2, math.floor(r))
        n = 0
        for k in range(s, e + 1):
            w[b, k] = max(0.0, (k - l) / (c - l) if k <= c else (r - k) / (r - c))
            n += 1
        if n == 0:  # narrow low band: the nearest bin (as mel.c)
            w[b, int(round(c))] = 1.0
    return w


MEL = _mel_matrix()
BAND_HZ = np.argmax(MEL, 1) * (SR / FFT)  # each band's peak frequency
HANN = 0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(WIN) + 0.5) / WIN)


def logmel(x):
    """Log-mel features of 16 kHz samples x, one row per 10 ms hop (windows of 25 ms)."""
    n = max(0, (len(x) - WIN) // HOP + 1)
    idx = np.arange(WIN)[None, :] + HOP * np.arange(n)[:, None]
    p = np.abs(np.fft.rfft(x[idx] * HANN, FFT)) ** 2
    return np.log(p @ MEL.T + 1e-7).astype(np.float32)


def noise(rng, kind, n, db):
    """n samples of background `kind` at an RMS level of `db` dBFS (full scale = 1.0)."""
    if kind == 'zero':
        return np.zeros(n)
    if kind == 'hum':
        f0 = rng.choice([50.0, 60.0])
        t = np.arange(n) / SR
        x = sum(rng.uniform(0.1, 1) / k * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.3))
                for k in range(1, 8))
        x = x + 0.05 * rng.normal(size=n)
    else:
        w = rng.normal(size=n)
        if kind == 'white':
            x = w
        else:  # pink 1/f or brown 1/f^2 power, shaped in the frequency domain
            f = np.fft.rfftfreq(n, 1 / SR)
            g = np.maximum(f, 20.0) ** (-0.5 if kind == 'pink' else -1.0)
            x = np.fft.irfft(np.fft.rfft(w) * g, n)
    x = x / (np.sqrt(np.mean(x ** 2)) + 1e-12)
    return x * 10 ** (db / 20)


KINDS = ('zero', 'white', 'white', 'pink', 'brown', 'hum')


def random_bg(rng, hops, max_db=-65.0):
    """Features of `hops` hops of a random background: digital zeros, or hiss / hum at
    -100..max_db dBFS, sometimes quantised to 16 bits, as a PCM stream would be. Louder noise
    is left to the speech corpus (noise at 5-30 dB SNR around speech): with white noise up to
    -50 dBFS here, the network learnt that any burst of noise after silence is no speech (the
    engine test's -20 dBFS noise burst no longer opened the jaw)."""
    kind = KINDS[rng.integers(len(KINDS))]
    n = (hops - 1) * HOP + WIN
    x = noise(rng, kind, n, rng.uniform(-100.0, max_db))
    if kind != 'zero' and rng.random() < 0.3:
        x = np.round(x * 32768) / 32768
    return logmel(x)


GAP_KINDS = ('white', 'white', 'pink', 'brown', 'hum')


def loud_level(f):
    """The loud-speech level of log-mel features f (hops x bands): the log of the band-averaged
    power of each band's 95th percentile (the reference of train.py's noise floors)."""
    return np.log(np.mean(np.exp(np.percentile(f, 95, axis=0))))


def harmonic(rng, n):
    """n samples of a steady voiced sound that is not speech (a hum, a beep, a held note):
    f0 90-300 Hz (drifting up to +-5 %), 2-8 harmonics of random strength, -30..-8 dBFS."""
    t = np.arange(n) / SR
    f0 = rng.uniform(90.0, 300.0) * (1 + rng.uniform(-0.05, 0.05) * t / max(t[-1], 1e-3))
    ph = 2 * np.pi * np.cumsum(f0) / SR
    tilt = rng.uniform(0.0, 1.5)
    x = sum(rng.uniform(0.1, 1.0) / k ** tilt * np.sin(k * ph + rng.uniform(0, 6.3))
            for k in range(1, int(rng.integers(2, 9)) + 1) if k * f0[0] < 7500)
    x = x / (np.sqrt(np.mean(x ** 2)) + 1e-12)
    return x * 10 ** (rng.uniform(-30.0, -8.0) / 20)


def noisy_gap(rng, fa, ta, fb, tb, hops, voice, rest, ramp=3, snr_db=20.0,
              db=(-72.0, -35.0), narrow=0.3, tone=0.0):
    """A training crop of `hops` hops where speech stops, the room noise goes on, and
    (sometimes) speech starts again: the part of utterance A (features fa, targets ta) before
    a cut inside its speech, a pause of 25-150 hops, then the start of utterance B (fb, tb; None:
    the pause runs to the end of the crop). One noise (white, pink, brown or mains hum at
    db[0]..db[1] dBFS, at most `snr_db` under A's loud speech) lies under all of it, as a
    microphone's would; with probability `narrow` the whole crop is then band-limited at
    3.4-4 kHz (an 8 kHz stream, whose noise has no high bands either). Targets: A's up to the
    cut, then `ramp` hops from A's last mouth pose to the rest pose `rest` (all columns; the
    mouth channels are those before column `voice`): the sound stops abruptly, the mouth
    follows within a few hops (the server test wants the jaw under half its maximum from 70 ms
    into the pause); the rest pose to B, B's after. The voice target is 0 from the cut on.
    With probability `tone` the part before the pause is a steady harmonic sound instead of
    A's speech (harmonic(); a beep, a hum, the server test's tone bursts): its hops and the
    ramp carry no loss (mask 0, nothing is said about the mouth on a tone), the pause after it
    rests as after speech.

    Returns (features hops x F, targets hops x T, loss mask hops) or None when A has no speech
    hop to cut at.
    The server's end-to-end test streams tone bursts with -45 dBFS white noise in the pauses
    and wants the jaw down within 190 ms of a burst; networks trained only on quiet pauses
    (backgrounds under -65 dBFS) and on noise at 5-30 dB SNR over whole utterances held it
    open there (docs/engine.md, stage 12), and still did at -55 dBFS after crops with noise
    at -58..-35 dBFS only (most of them capped at 20 dB SNR): quiet noise needs its share."""
    sp = np.nonzero(ta[:, voice] > 0.5)[0]
    sp = sp[sp >= 10]
    if len(sp) == 0:
        return None
    cut = int(sp[rng.integers(len(sp))]) + 1
    la = min(cut, int(rng.integers(20, max(21, hops // 2))))
    gap = int(rng.integers(25, 151))
    nf = fa.shape[1]
    quiet = np.log(1e-7)
    head_f, head_t = fa[cut - la:cut], ta[cut - la:cut]
    mask = np.ones(hops, np.float32)
    r = min(ramp, gap)
    if rng.random() < tone:
        la = int(rng.integers(20, max(21, hops // 2)))
        head_f = logmel(harmonic(rng, (la - 1) * HOP + WIN))
        head_t = np.tile(rest, (la, 1)).astype(np.float32)
        mask[:la + r] = 0
    parts_f = [head_f, np.full((gap, nf), quiet, np.float32)]
    mouth = np.tile(rest, (gap, 1)).astype(np.float32)
    k = (np.arange(1, r + 1) / (r + 1))[:, None]
    mouth[:r, :voice] = (1 - k) * head_t[-1, :voice] + k * rest[:voice]
    parts_t = [head_t, mouth]
    if fb is not None:
        parts_f.append(fb)
        parts_t.append(tb)
    x = np.concatenate(parts_f)[:hops]
    y = np.concatenate(parts_t)[:hops]
    if len(x) < hops:  # B ended: the pause goes on
        x = np.concatenate([x, np.full((hops - len(x), nf), quiet, np.float32)])
        y = np.concatenate([y, np.tile(rest, (hops - len(y), 1))])
    kind = GAP_KINDS[rng.integers(len(GAP_KINDS))]
    g = logmel(noise(rng, kind, (hops - 1) * HOP + WIN, rng.uniform(*db)))
    # Power adds; the noise's mean band power stays snr_db under A's loud speech.
    loud = loud_level(head_f)
    over = np.log(np.mean(np.exp(g))) - (loud - snr_db / 10 * np.log(10))
    if over > 0:
        g = g - over
    x = np.logaddexp(x, g)
    if rng.random() < narrow:
        x[:, BAND_HZ > rng.uniform(3400.0, 4000.0)] = quiet
    return x.astype(np.float32), y.astype(np.float32), mask


@functools.lru_cache(maxsize=None)
def gap_signal(rate):
    """tests/server/harness.mjs makePcm at `rate` (s16 samples), made once per pick run."""
    n = int(round(rate * 1.37))
    t = np.arange(n) / rate
    lcg = np.empty(n, np.uint32)
    v = 1
    for i in range(n):
        # the harness' LCG, seed 1, in JavaScript's arithmetic: the product is a double
        # (rounded above 2^53), then ToUint32; exact integer arithmetic gives another noise
        v = int(float(v) * 1103515245.0 + 12345.0) % 4294967296
        lcg[i] = v
    noise = ((lcg >> 16) / 65536.0 - 0.5) * 0.02
    on = (np.floor(t / 0.25) % 2 == 0).astype(np.float64)
    x = on * (0.3 * np.sin(2 * np.pi * 140 * t) + 0.2 * np.sin(2 * np.pi * 280 * t) +
              0.1 * np.sin(2 * np.pi * 700 * t)) + noise
    return np.clip(np.floor(x * 32767 + 0.5), -32767, 32767).astype('<i2')  # Math.round


def test_vowel(n, f0, f1, f2, amp):
    """tests/engine/test_util.h ak_test_vowel: n samples of a steady harmonic vowel at f0 with
    two formant peaks (f1, f2), 10 ms fades at either end."""
    nh = min(40, int(np.ceil(5000.0 / f0)) - 1)  # harmonics under 5 kHz, at most 40
    h = np.arange(1, nh + 1)
    w = 1.0 / (1.0 + ((h * f0 - f1) / 90.0) ** 2) + 0.5 / (1.0 + ((h * f0 - f2) / 120.0) ** 2) + 0.02
    t = np.arange(n) / SR
    x = (w[:, None] * np.sin(2 * np.pi * f0 * h[:, None] * t[None, :])).sum(0)
    fade = np.ones(n)
    fade[:160] = np.arange(160) / 160.0
    fade[n - 160:] = (n - np.arange(n - 160, n)) / 160.0
    return amp * fade * x / w.sum() * 2.0


def melody(accent_f0, seconds=20):
    """tests/engine/test_prosody.c melody(): back-to-back 0.25 s vowels (700 / 1200 Hz formants,
    amplitude 0.25) at 120 Hz, every sixth at accent_f0, after 0.25 s of silence."""
    n = SR * seconds
    x = np.zeros(n)
    pos, k = 4000, 0
    while pos + 4000 < n:
        x[pos:pos + 4000] += test_vowel(4000, accent_f0 if k % 6 == 5 else 120.0, 700.0, 1200.0, 0.25)
        pos += 4000
        k += 1
    return x


# Formant ranges (F1, F2, F3 in Hz) of the five vowel visemes (tools/train/phones.h: AA 10,
# E 11, I 12, O 13, U 14), wide enough for men's, women's and children's voices.
VOWEL_FORMANTS = {
    10: ((600.0, 950.0), (1000.0, 1600.0), (2300.0, 3200.0)),
    11: ((380.0, 650.0), (1700.0, 2400.0), (2400.0, 3200.0)),
    12: ((240.0, 380.0), (1900.0, 2900.0), (2700.0, 3500.0)),
    13: ((380.0, 620.0), (700.0, 1100.0), (2300.0, 3100.0)),
    14: ((240.0, 400.0), (550.0, 1000.0), (2200.0, 3000.0)),
}


def _hop_smooth(rng, hops, tau_hops):
    """A first-order low-pass (time constant tau_hops) of a piecewise-constant note contour in
    semitones: notes of 15-80 hops, each within +-4 semitones of the voice's base pitch."""
    notes = np.empty(hops)
    i = 0
    while i < hops:
        k = int(rng.integers(15, 81))
        notes[i:i + k] = rng.uniform(-4.0, 4.0)
        i += k
    out = np.empty(hops)
    s, g = notes[0], 1.0 / max(1.0, tau_hops)
    for i in range(hops):
        s += g * (notes[i] - s)
        out[i] = s
    return out


def _resonator(f, fc, bw):
    """Magnitude response of a two-pole resonance at fc Hz, bandwidth bw Hz, unity at 0 Hz."""
    h = bw / 2.0
    return (fc * fc + h * h) / np.sqrt(((fc - f) ** 2 + h * h) * ((fc + f) ** 2 + h * h))


def held_vowels(rng, n, segs, fade=6):
    """n samples (16 kHz, RMS 1) of one voice holding vowels, as in singing or a drawn-out
    syllable: `segs` is a list of (formants, first hop), formants (F1, F2, F3) in Hz, each
    segment running to the next one's first hop, `fade` hops of crossfade between them.
    The source is a glottal pulse train (pitch 80-320 Hz, sung notes gliding into each other,
    vibrato, a slow pitch wander, shimmer, a little breath noise) shaped by a spectral tilt of about -4..-9
    dB per octave, then by five resonances (the segment's three formants, F4, F5), applied in
    the frequency domain. Unlike the engine tests' vowels (tests/engine/test_util.h: harmonic
    sums with two Lorentzian peaks at a fixed 120 Hz or a melody of fixed notes), nothing here
    is periodic for long."""
    hops = n // HOP + 2
    base = np.exp(rng.uniform(np.log(80.0), np.log(320.0)))
    semis = _hop_smooth(rng, hops, rng.uniform(2.0, 8.0))
    semis = semis + np.cumsum(rng.normal(0.0, 0.02, hops))  # slow wander
    t_hop = np.arange(hops) * HOP
    f0 = base * 2.0 ** (np.interp(np.arange(n), t_hop, semis) / 12.0)
    if rng.random() < 0.6:
        depth, rate = rng.uniform(0.005, 0.025), rng.uniform(4.5, 6.5)
        f0 = f0 * (1.0 + depth * np.sin(2 * np.pi * rate * np.arange(n) / SR + rng.uniform(0, 6.3)))
    # a slow wander of about 0.4 % (a random walk scaled to a constant spread)
    f0 = f0 * (1.0 + rng.normal(0.0, 0.004, n).cumsum() / np.sqrt(np.arange(1, n + 1)))
    phase = np.cumsum(f0) / SR
    idx = np.nonzero(np.diff(np.floor(phase)) > 0)[0] + 1
    src = np.zeros(n)
    src[idx] = 1.0 + rng.normal(0.0, 0.06, len(idx))  # shimmer
    src = src - src.mean()
    breath = rng.uniform(0.0, 0.15) * np.sqrt(np.mean(src ** 2))
    src = src + breath * rng.normal(0.0, 1.0, n)
    m = 1 << int(np.ceil(np.log2(n + 2048)))  # room for the resonances' tails; a fast size
    spec = np.fft.rfft(src, m)
    f = np.fft.rfftfreq(m, 1.0 / SR)
    fc, slope = rng.uniform(100.0, 300.0), rng.uniform(0.7, 1.5)
    shape = (1.0 + (f / fc) ** 2) ** (-slope / 2.0)
    f4, f5 = rng.uniform(3300.0, 4200.0), rng.uniform(4300.0, 5200.0)
    shape = (shape * _resonator(f, f4, rng.uniform(200, 400)) *
             _resonator(f, f5, rng.uniform(250, 500)))
    x = np.zeros(n)
    w_hop = np.zeros((len(segs), hops))
    for s, (_, h0) in enumerate(segs):
        h1 = segs[s + 1][1] if s + 1 < len(segs) else hops
        w_hop[s, max(0, h0):h1] = 1.0
    if len(segs) > 1 and fade > 1:  # linear crossfades centred on each boundary
        k = np.ones(fade) / fade
        w_hop = np.stack([np.convolve(np.pad(w, (fade // 2, fade - 1 - fade // 2), 'edge'), k,
                                      'valid') for w in w_hop])
    for s, (fm, _) in enumerate(segs):
        bw = (rng.uniform(50, 120), rng.uniform(70, 160), rng.uniform(100, 250))
        h = shape.copy()
        for fc_, b in zip(fm, bw):
            h = h * _resonator(f, fc_, b)
        y = np.fft.irfft(spec * h, m)[:n]
        x += np.interp(np.arange(n), t_hop + HOP / 2, w_hop[s]) * y
    trem = rng.uniform(0.0, 0.1) * np.sin(2 * np.pi * rng.uniform(0.3, 2.0) * np.arange(n) / SR)
    x = x * (1.0 + trem)
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def random_formants(rng, vis):
    """F1, F2, F3 drawn within a vowel viseme's ranges (VOWEL_FORMANTS)."""
    return tuple(rng.uniform(lo, hi) for lo, hi in VOWEL_FORMANTS[vis])
