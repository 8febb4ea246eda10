"""Background (no speech) examples for training and checking the mouth model: digital zeros,
dither-level and low-level hiss (white, pink, brown), mains hum. Features are computed with a
numpy copy of the engine's front end (engine/mel.c: 25 ms Hann window, 512-point FFT, 32
triangular mel bands 50-7800 Hz, log(power + 1e-7)), so they match what the engine computes
on the same samples up to float rounding.
"""
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
