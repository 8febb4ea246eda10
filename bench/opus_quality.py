#!/usr/bin/python3
"""Opus output quality and cost by encoder complexity, on real speech.

Encodes 16 kHz mono speech exactly as the Motion Server does (codec/opus_enc.c: libopus,
OPUS_APPLICATION_VOIP, OPUS_SIGNAL_VOICE, 20 ms packets, --opus-bitrate, default 24 kb/s),
decodes it, aligns it by the encoder's lookahead (pre-skip) and compares it with the input by
  - mel-cepstral distortion (MCD, dB; 24 mel bands, cepstra 1..12, speech frames only),
  - log-spectral distance (LSD, dB; 512-point spectra up to 8 kHz, speech frames only),
  - waveform SNR (dB; the weak proxy used before),
and times the encoder (ms of CPU per second of audio, best of 3 passes).
Lower MCD/LSD is better. This is an objective proxy, not a listening test.

Speech: ../shared/data/speech/*_16k.pcm and clip_16000.pcm (raw s16le 16 kHz) when present,
else speech generated with flite (the fallback). Needs numpy and libopus.so.0.

usage: /usr/bin/python3 bench/opus_quality.py [--bitrate 24000] [--complexities 0,1,2,3,4,5,10]
       [--speech-dir DIR]
"""
import argparse
import ctypes
import glob
import os
import subprocess
import sys
import tempfile
import time
import wave

import numpy as np

RATE = 16000
FRAME = RATE // 50

OPUS_APPLICATION_VOIP = 2048
OPUS_SET_BITRATE = 4002
OPUS_SET_COMPLEXITY = 4010
OPUS_SET_SIGNAL = 4024
OPUS_SIGNAL_VOICE = 3001
OPUS_GET_LOOKAHEAD = 4027


def load_opus():
    lib = ctypes.CDLL("libopus.so.0")
    lib.opus_encoder_create.restype = ctypes.c_void_p
    lib.opus_encoder_create.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.opus_decoder_create.restype = ctypes.c_void_p
    lib.opus_decoder_create.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.opus_encode_float.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    lib.opus_decode_float.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.opus_encoder_destroy.argtypes = [ctypes.c_void_p]
    lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
    lib.opus_encoder_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


def roundtrip(lib, x, bitrate, complexity):
    """Returns (decoded signal aligned to x, encode seconds)."""
    err = ctypes.c_int(0)
    enc = lib.opus_encoder_create(RATE, 1, OPUS_APPLICATION_VOIP, ctypes.byref(err))
    dec = lib.opus_decoder_create(RATE, 1, ctypes.byref(err))
    ctl = lib.opus_encoder_ctl
    ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    ctl(enc, OPUS_SET_BITRATE, bitrate)
    ctl(enc, OPUS_SET_COMPLEXITY, complexity)
    ctl(enc, OPUS_SET_SIGNAL, OPUS_SIGNAL_VOICE)
    la = ctypes.c_int(0)
    ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    ctl(enc, OPUS_GET_LOOKAHEAD, ctypes.byref(la))
    n_frames = (len(x) + la.value) // FRAME + 1
    pad = np.zeros(n_frames * FRAME, dtype=np.float32)
    pad[: len(x)] = x
    pkt = (ctypes.c_ubyte * 1275)()
    out = np.zeros(n_frames * FRAME, dtype=np.float32)
    packets = []
    t0 = time.process_time()
    for i in range(n_frames):
        fr = pad[i * FRAME:(i + 1) * FRAME]
        n = lib.opus_encode_float(enc, fr.ctypes.data, FRAME, pkt, 1275)
        if n < 0:
            raise RuntimeError("opus_encode_float failed")
        packets.append(bytes(pkt[:n]))
    t_enc = time.process_time() - t0
    for i, p in enumerate(packets):
        buf = (ctypes.c_ubyte * len(p)).from_buffer_copy(p)
        o = out[i * FRAME:(i + 1) * FRAME]
        lib.opus_decode_float(dec, buf, len(p), o.ctypes.data, FRAME, 0)
    lib.opus_encoder_destroy(enc)
    lib.opus_decoder_destroy(dec)
    return out[la.value: la.value + len(x)], t_enc, sum(len(p) for p in packets)


def frames(x, n=512, hop=160):
    k = 1 + max(0, (len(x) - n) // hop)
    idx = np.arange(n)[None, :] + hop * np.arange(k)[:, None]
    return x[idx] * np.hanning(n)[None, :]


def mel_bank(n_fft=512, n_mels=24, fmin=60.0, fmax=7600.0):
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    imel = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
    pts = imel(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1 / RATE)
    fb = np.zeros((n_mels, len(bins)))
    for m in range(n_mels):
        lo, c, hi = pts[m], pts[m + 1], pts[m + 2]
        fb[m] = np.clip(np.minimum((bins - lo) / (c - lo), (hi - bins) / (hi - c)), 0, None)
    return fb


def measures(ref, deg):
    fr, fd = frames(ref), frames(deg)
    pr = np.abs(np.fft.rfft(fr)) ** 2 + 1e-9
    pd = np.abs(np.fft.rfft(fd)) ** 2 + 1e-9
    energy = 10 * np.log10(pr.sum(axis=1))
    speech = energy > energy.max() - 40  # frames within 40 dB of the loudest
    lsd = np.sqrt(np.mean((10 * np.log10(pr[speech]) - 10 * np.log10(pd[speech])) ** 2, axis=1)).mean()
    fb = mel_bank()
    # log mel AMPLITUDE (half the log power), the usual MCD scale
    lr, ld = 0.5 * np.log(pr[speech] @ fb.T), 0.5 * np.log(pd[speech] @ fb.T)
    n = fb.shape[0]
    dct = np.cos(np.pi / n * (np.arange(n)[None, :] + 0.5) * np.arange(n)[:, None])
    cr, cd = lr @ dct.T, ld @ dct.T
    diff = (cr - cd)[:, 1:13] * np.sqrt(2 / n)
    mcd = (10 / np.log(10) * np.sqrt(2 * np.sum(diff ** 2, axis=1))).mean()
    snr = 10 * np.log10(np.sum(ref ** 2) / max(np.sum((ref - deg) ** 2), 1e-12))
    return mcd, lsd, snr


def speech_clips(d):
    files = sorted(set(glob.glob(os.path.join(d, "*_16k.pcm")) + glob.glob(os.path.join(d, "clip_16000.pcm"))))
    clips = [(os.path.basename(f), np.fromfile(f, dtype="<i2").astype(np.float32) / 32768) for f in files]
    if clips:
        return clips
    text = ("The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore. "
            "How much wood would a woodchuck chuck if a woodchuck could chuck wood?")
    with tempfile.TemporaryDirectory() as t:
        w = os.path.join(t, "s.wav")
        subprocess.run(["flite", "-t", text, "-o", w], check=True)
        with wave.open(w) as f:
            if f.getframerate() != RATE:
                raise SystemExit("flite did not write 16 kHz audio")
            x = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").astype(np.float32) / 32768
    return [("flite (generated)", x)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bitrate", type=int, default=24000)
    ap.add_argument("--complexities", default="0,1,2,3,4,5,10")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--speech-dir", default=os.path.join(here, "..", "..", "shared", "data", "speech"))
    a = ap.parse_args()
    if not os.path.isdir(a.speech_dir) and os.path.isdir("/work/shared/data/speech"):
        a.speech_dir = "/work/shared/data/speech"
    lib = load_opus()
    clips = speech_clips(a.speech_dir)
    total = sum(len(x) for _, x in clips) / RATE
    print(f"# {len(clips)} clips, {total:.1f} s of speech ({', '.join(n for n, _ in clips)}); "
          f"{a.bitrate} b/s, 16 kHz mono, VOIP, 20 ms")
    print("| complexity | MCD dB | LSD dB | SNR dB | encode ms per audio s | kb/s |")
    print("|---|---|---|---|---|---|")
    for c in [int(v) for v in a.complexities.split(",")]:
        m = lsd = snr = 0.0
        best = []
        nbytes = 0
        for _, x in clips:
            times = []
            for _ in range(3):
                y, t, nb = roundtrip(lib, x, a.bitrate, c)
                times.append(t)
            best.append(min(times))
            nbytes += nb
            mm, ll, ss = measures(x, y)
            w = len(x) / RATE / total
            m, lsd, snr = m + mm * w, lsd + ll * w, snr + ss * w
        print(f"| {c} | {m:.2f} | {lsd:.2f} | {snr:.2f} | {1000 * sum(best) / total:.2f} | "
              f"{nbytes * 8 / total / 1000:.1f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
