#!/usr/bin/python3
"""Trains the recognizer's cepstral cleaner (--asr-enhance, backend/enhance.c).

In noise the recognizer hears speech through speexdsp's suppressor, whose output still
differs from clean speech (musical noise, lost weak sounds), and pocketsphinx's en-us model
knows only clean speech. This trains a small GRU that reads the 13 cepstra pocketsphinx's
front end makes from the suppressor's output, frame by frame (causal), and adds the
correction that brings them to what the same speech gives without noise.

Data: speech of synthetic voices that the ASR benchmark never uses (bench/asr/wer.py's tune
and report voices and espeak-ng are excluded by name), from the renders of the engine corpus
(tools/corpus/make-corpus.sh writes DIR/render/*/VOICE_NNNNN.wav), levelled to -38..-16 dBFS,
padded, and mixed with generated noise (power spectrum ~ f^a, a uniform in -2..0: white to
brown, so pink is inside the family) at 0..25 dB SNR; pairs of cepstra come from
build/bin/ak_asr_feats (the backend's own front end and suppressor).

  /usr/bin/python3 backend/asr/train_enhance.py --render CORPUS/render --work DIR \\
      [--bin build/bin] [--utts 1600] [--minutes 30] [--out backend/asr/enhance.aken]

File written (little-endian): "AKEN", u32 version 1, u32 13, u32 hidden, then float32:
input mean[13], input scale[13], GRU weight_ih[3H x 13], weight_hh[3H x H], bias_ih[3H],
bias_hh[3H] (PyTorch's gate order r, z, n), output weight[13 x H], output bias[13], output
scale[13]: cleaned = cepstra + scale * (W h + b).
"""
import argparse
import glob
import os
import random
import struct
import subprocess
import sys
import time
import wave

import numpy as np

# bench/asr/wer.py's voices (never trained on) and espeak-ng's formant voices
EXCLUDE = ("pico-en-US", "pico-en-GB", "rhvoice-", "mbrola-us", "mbrola-en1", "espeak",
           "flite-slt", "flite-kal")
RATE = 16000
LAG = 2  # frames; the peak of the noisy/clean c0 cross-correlation (printed by main)


def read_wav(path):
    with wave.open(path) as w:
        if w.getframerate() != RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            return None
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)


def active_rms(x):
    fl = RATE // 50
    n = len(x) // fl
    e = np.mean(x[:n * fl].reshape(n, fl) ** 2, axis=1)
    keep = e > e.max() * 10 ** (-3.5)
    return float(np.sqrt(np.mean(e[keep]) + 1e-9))


def colored(n, slope, rng):
    """Noise with power ~ f^slope, unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    y = np.fft.irfft(spec * f ** (slope / 2), n)
    return y / (np.sqrt(np.mean(y * y)) + 1e-12)


def make_pairs(args):
    """Writes noisy/clean raw pairs and their cepstra; returns the list of .bin files."""
    files = sorted(glob.glob(os.path.join(args.render, "*", "*.wav")))
    files = [f for f in files if not os.path.basename(f).startswith(EXCLUDE)]
    rng = random.Random(args.seed)
    rng.shuffle(files)
    files = files[:args.utts]
    voices = sorted({os.path.basename(f).rsplit("_", 1)[0] for f in files})
    print("train_enhance: %d utterances of %d voices: %s" % (len(files), len(voices),
                                                            " ".join(voices)), flush=True)
    raw = os.path.join(args.work, "raw")
    os.makedirs(raw, exist_ok=True)
    lines, outs = [], []
    for i, f in enumerate(files):
        out = os.path.join(raw, "%05d.bin" % i)
        outs.append(out)
        if os.path.exists(out):
            continue
        x = read_wav(f)
        if x is None or len(x) < RATE // 2:
            outs.pop()
            continue
        nr = np.random.default_rng(args.seed * 100003 + i)
        x = x * (32768 * 10 ** (nr.uniform(-38, -16) / 20) / active_rms(x))
        lead, trail = int(nr.uniform(0.3, 1.0) * RATE), int(0.3 * RATE)
        x = np.concatenate([np.zeros(lead), x, np.zeros(trail)])
        srms = active_rms(x)
        clean = x + colored(len(x), 0.0, nr) * srms * 10 ** (-60 / 20)
        noise = colored(len(x), nr.uniform(-2.0, 0.0), nr)
        noisy = x + noise * srms * 10 ** (-nr.uniform(0, 25) / 20)
        for name, y in (("n", noisy), ("c", clean)):
            np.clip(np.round(y), -32768, 32767).astype("<i2").tofile(
                os.path.join(raw, "%05d%s.raw" % (i, name)))
        lines.append("%s %s %s\n" % (os.path.join(raw, "%05dn.raw" % i),
                                     os.path.join(raw, "%05dc.raw" % i), out))
    if lines:
        p = subprocess.run([os.path.join(args.bin, "ak_asr_feats")], input="".join(lines),
                           text=True, capture_output=True)
        if p.returncode:
            sys.exit("train_enhance: ak_asr_feats failed: " + p.stderr)
        for ln in lines:
            for r in ln.split()[:2]:
                os.remove(r)
    return [o for o in outs if os.path.exists(o)]


def load(path):
    with open(path, "rb") as f:
        nn, nc = struct.unpack("<ii", f.read(8))
        a = np.frombuffer(f.read(nn * 13 * 4), dtype="<f4").reshape(nn, 13)
        b = np.frombuffer(f.read(nc * 13 * 4), dtype="<f4").reshape(nc, 13)
    # the suppressor delays its output by 20 ms: noisy frame t + LAG is clean frame t
    n = min(nn - LAG, nc)
    return a[LAG:LAG + n], b[:n]


class Net:
    """The cleaner: GRU(13 -> H) and a linear layer H -> 13 (built on first use of torch)."""

    def __new__(cls, h, torch):
        class _Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.gru = torch.nn.GRU(13, h, batch_first=True)
                self.out = torch.nn.Linear(h, 13)

            def forward(self, x):
                return self.out(self.gru(x)[0])
        return _Net()


def fixture(outdir, torch):
    """A random hidden-4 model and 6 frames through it, as the C code must compute them."""
    torch.manual_seed(11)
    net = Net(4, torch)
    rng = np.random.default_rng(11)
    mu = rng.normal(0, 2, 13).astype(np.float32)
    sd = rng.uniform(0.5, 3, 13).astype(np.float32)
    osd = rng.uniform(0.2, 2, 13).astype(np.float32)
    x = rng.normal(0, 3, (6, 13)).astype(np.float32)
    with torch.no_grad():
        tx = torch.tensor(x)[None]
        y = (tx + net((tx - torch.tensor(mu)) / torch.tensor(sd)) * torch.tensor(osd))[0]
    os.makedirs(outdir, exist_ok=True)
    export(os.path.join(outdir, "enh_fixture.aken"), net, mu, sd, osd)
    with open(os.path.join(outdir, "enh_fixture.txt"), "w") as f:
        f.write("# train_enhance.py --fixture: 6 frames in, then the same 6 frames out\n")
        for row in np.concatenate([x, y.numpy()]):
            f.write(" ".join("%.7g" % v for v in row) + "\n")
    print("train_enhance: fixture written to %s" % outdir)


def export(path, model, mu, sd, osd):
    g, o = model.gru, model.out
    h = g.hidden_size
    with open(path, "wb") as f:
        f.write(b"AKEN" + struct.pack("<III", 1, 13, h))
        for t in (mu, sd, g.weight_ih_l0, g.weight_hh_l0, g.bias_ih_l0, g.bias_hh_l0,
                  o.weight, o.bias, osd):
            a = t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)
            f.write(np.ascontiguousarray(a, dtype="<f4").tobytes())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--render", help="the engine corpus's render directory")
    ap.add_argument("--work", help="scratch directory (pairs are cached)")
    ap.add_argument("--fixture", help="write a small random model, inputs and PyTorch's "
                    "outputs here for test_backend_units, and stop")
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--utts", type=int, default=1600)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="backend/asr/enhance.aken")
    args = ap.parse_args()
    import torch
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    if args.fixture:
        return fixture(args.fixture, torch)
    if not args.render or not args.work:
        ap.error("--render and --work are needed to train")
    bins = make_pairs(args)
    data = [load(b) for b in bins]
    nval = max(1, len(data) // 20)
    val, train = data[:nval], data[nval:]
    lags = []
    for a, b in val:
        a, b = a[:, 0] - a[:, 0].mean(), b[:, 0] - b[:, 0].mean()
        lags.append(max(range(-4, 5), key=lambda k: float(np.dot(
            a[max(k, 0):len(a) + min(k, 0)], b[max(-k, 0):len(b) - max(k, 0)]))))
    print("train_enhance: residual lag after LAG=%d, median over valid: %d frames"
          % (LAG, int(np.median(lags))), flush=True)
    allx = np.concatenate([a for a, _ in train])
    ally = np.concatenate([b for _, b in train])
    mu, sd = allx.mean(0), allx.std(0) + 1e-3
    osd = (ally - allx).std(0) + 1e-3
    w = 1.0 / (ally.std(0) ** 2 + 1e-3)  # each cepstrum's error counts by its clean spread
    print("train_enhance: %d train / %d valid utterances, %d frames; noisy-clean RMS per "
          "cepstrum %s" % (len(train), len(val), len(allx), np.round(osd, 2)), flush=True)

    net = Net(args.hidden, torch)
    torch.nn.init.zeros_(net.out.weight)
    torch.nn.init.zeros_(net.out.bias)
    tmu, tsd, tosd, tw = (torch.tensor(v, dtype=torch.float32) for v in (mu, sd, osd, w))
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)

    def batch(items, crop, rng):
        xs, ys = [], []
        for a, b in items:
            if crop and len(a) > crop:
                s = 0 if rng.random() < 0.5 else rng.randrange(0, len(a) - crop)
                a, b = a[s:s + crop], b[s:s + crop]
            xs.append(torch.tensor(np.array(a)))
            ys.append(torch.tensor(np.array(b)))
        n = max(len(x) for x in xs)
        m = torch.zeros(len(xs), n)
        for i, x in enumerate(xs):
            m[i, :len(x)] = 1
        pad = lambda v: torch.nn.utils.rnn.pad_sequence(v, batch_first=True)
        return pad(xs), pad(ys), m

    def loss_of(x, y, m):
        pred = x + net((x - tmu) / tsd) * tosd
        e = ((pred - y) ** 2 * tw).sum(-1)
        return (e * m).sum() / m.sum()

    rng = random.Random(args.seed)
    vx, vy, vm = batch(val, 0, rng)
    with torch.no_grad():
        base = float(((((vx - vy) ** 2) * tw).sum(-1) * vm).sum() / vm.sum())
    t0, step, best = time.time(), 0, None
    # utterance starts matter (the state starts at zero there): half the crops start at 0
    while time.time() - t0 < args.minutes * 60:
        items = [train[rng.randrange(len(train))] for _ in range(32)]
        x, y, m = batch(items, 400, rng)
        opt.zero_grad()
        loss_of(x, y, m).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 200 == 0:
            with torch.no_grad():
                v = float(loss_of(vx, vy, vm))
            print("step %d  valid weighted error %.3f (uncleaned %.3f)  %.0f s" %
                  (step, v, base, time.time() - t0), flush=True)
            if best is None or v < best:
                best = v
                export(args.out, net, mu, sd, osd)
    print("train_enhance: wrote %s (valid error %.3f, uncleaned %.3f, %d steps)" %
          (args.out, best or base, base, step))


if __name__ == "__main__":
    main()
