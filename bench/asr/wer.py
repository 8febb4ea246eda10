#!/usr/bin/env python3
"""Word error rate of the backend's local speech recognizer on short spoken questions.

Questions (in_domain.txt: in the language model text; dev.txt: for tuning; held_out.txt:
never tuned on, never in the LM text, checked here) are spoken by natural-sounding voices
installed on the machine (SVOX pico, RHVoice, MBROLA through espeak-ng; espeak-ng's own voice
is reported apart), levelled to --level-db, padded as a push-to-talk turn, mixed with seeded
pink noise at each SNR, and fed through build/bin/ak_bench_asr: the backend's own VAD,
recognizer pool and pocketsphinx code, fed in the demo page's 4096-sample blocks.

Scoring lower-cases, drops punctuation and expands contractions (what's = what is, I'm = I am,
...) on both sides, then counts word substitutions, deletions and insertions.

  /usr/bin/python3 bench/asr/wer.py --bin build/bin [--voices report] [--sets in,held]
        [--snr clean,20,10] [--work /work/wt/data/asr] [-- backend flags for ak_bench_asr]

Voices are split: --voices tune (pico-en-US, rhvoice-slt, mbrola-us1) were used for tuning;
--voices report (the others) are the reported numbers; espeak is espeak-ng's formant voice.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "backend", "asr"))
import build_lm  # noqa: E402

VOICES = {
    # name: (kind, argument)
    "pico-en-US": ("pico", "en-US"),
    "pico-en-GB": ("pico", "en-GB"),
    "rhvoice-slt": ("rhvoice", "slt"),
    "rhvoice-alan": ("rhvoice", "alan"),
    "rhvoice-bdl": ("rhvoice", "bdl"),
    "rhvoice-clb": ("rhvoice", "clb"),
    "mbrola-us1": ("espeak", "mb-us1"),
    "mbrola-us2": ("espeak", "mb-us2"),
    "mbrola-us3": ("espeak", "mb-us3"),
    "mbrola-en1": ("espeak", "mb-en1"),
    "espeak-en-us": ("espeak", "en-us"),
}
GROUPS = {
    "tune": ["pico-en-US", "rhvoice-slt", "mbrola-us1"],
    "report": ["pico-en-GB", "rhvoice-alan", "rhvoice-bdl", "rhvoice-clb", "mbrola-us2",
               "mbrola-us3", "mbrola-en1"],
    "espeak": ["espeak-en-us"],
}
SETS = {"in": "in_domain.txt", "dev": "dev.txt", "held": "held_out.txt"}

normalize = build_lm.normalize


def edits(ref, hyp):
    d = list(range(len(hyp) + 1))
    for i in range(1, len(ref) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(hyp) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (ref[i - 1] != hyp[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(hyp)]


def load_set(name):
    with open(os.path.join(HERE, SETS[name]), encoding="utf-8") as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]


def check_sets():
    """in-domain questions must be in the LM text, dev and held-out ones must not."""
    text = {" ".join(normalize(s)) for s in build_lm.corpus()}
    vocab = {w for s in text for w in s.split()}
    bad = []
    for name in SETS:
        for q in load_set(name):
            inside = " ".join(normalize(q)) in text
            if inside != (name == "in"):
                bad.append("%s: %r %s the LM text" % (name, q, "is in" if inside else "is not in"))
    wide = vocab | set(build_lm.load_common(os.path.join(ROOT, "backend", "asr",
                                                         "common_words.txt"), build_lm.COMMON_N))
    oov = {}
    for name in SETS:
        words = [w for q in load_set(name) for w in normalize(q)]
        oov[name] = (sum(w not in vocab for w in words), sum(w not in wide for w in words),
                     len(words))
    return bad, oov


def synth(voice, text, path):
    kind, arg = VOICES[voice]
    if kind == "pico":
        cmd = ["pico2wave", "-l", arg, "-w", path, text]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    elif kind == "rhvoice":
        subprocess.run(["RHVoice-test", "-p", arg, "-o", path], input=text.encode(), check=True,
                       capture_output=True, timeout=60)
    else:
        subprocess.run(["espeak-ng", "-v", arg, "-w", path, text], check=True,
                       capture_output=True, timeout=60)


def voice_available(voice):
    kind, arg = VOICES[voice]
    tool = {"pico": "pico2wave", "rhvoice": "RHVoice-test", "espeak": "espeak-ng"}[kind]
    if not shutil.which(tool):
        return False
    if kind == "espeak" and arg.startswith("mb-"):
        return os.path.exists("/usr/share/mbrola/%s" % arg[3:])
    if kind == "rhvoice":
        return os.path.isdir("/usr/share/RHVoice/voices/%s" % arg)
    return True


def read_wav(path):
    with wave.open(path) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, path
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64), w.getframerate()


def write_wav(path, x, rate):
    y = np.clip(np.round(x), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(y.tobytes())


def active_rms(x, rate):
    """RMS over the 20 ms frames within 35 dB of the loudest one (the speech itself)."""
    fl = rate // 50
    n = len(x) // fl
    if n == 0:
        return float(np.sqrt(np.mean(x * x) + 1e-9))
    e = np.mean(x[:n * fl].reshape(n, fl) ** 2, axis=1)
    keep = e > e.max() * 10 ** (-3.5)
    return float(np.sqrt(np.mean(e[keep]) + 1e-9))


def pink(n, rng):
    """Pink (1/f power) noise with unit RMS, shaped in the frequency domain."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    y = np.fft.irfft(spec / np.sqrt(f), n)
    return y / (np.sqrt(np.mean(y * y)) + 1e-12)


def prepare(args, voice, sets, snrs):
    """Returns [(set, question, snr, wav path)], synthesizing and mixing what is missing."""
    items = []
    for sname in sets:
        for qi, q in enumerate(load_set(sname)):
            key = hashlib.sha1(("%s|%s" % (voice, q)).encode()).hexdigest()[:12]
            raw = os.path.join(args.work, "tts", voice, key + ".wav")
            if not os.path.exists(raw):
                os.makedirs(os.path.dirname(raw), exist_ok=True)
                synth(voice, q, raw + ".tmp.wav")
                os.replace(raw + ".tmp.wav", raw)
            for snr in snrs:
                tag = "L%g_l%g_t%g_s%d_%s" % (args.level_db, args.lead_s, args.trail_s, args.seed, snr)
                out = os.path.join(args.work, "mix", tag, voice, key + ".wav")
                if not os.path.exists(out):
                    x, rate = read_wav(raw)
                    x = x * (32768 * 10 ** (args.level_db / 20) / active_rms(x, rate))
                    lead, trail = int(args.lead_s * rate), int(args.trail_s * rate)
                    y = np.concatenate([np.zeros(lead), x, np.zeros(trail)])
                    if snr != "clean":
                        seed = int(hashlib.sha1(("%d|%s|%s|%s" % (args.seed, voice, q, snr))
                                                .encode()).hexdigest()[:8], 16)
                        rng = np.random.default_rng(seed)
                        nrms = active_rms(x, rate) / 10 ** (float(snr) / 20)
                        y = y + pink(len(y), rng) * nrms
                    os.makedirs(os.path.dirname(out), exist_ok=True)
                    write_wav(out + ".tmp.wav", y, rate)
                    os.replace(out + ".tmp.wav", out)
                items.append((sname, q, snr, out))
    return items


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--voices", default="report",
                    help="comma list of voice names or groups: tune, report, espeak, all")
    ap.add_argument("--sets", default="in,held", help="comma list of in, dev, held")
    ap.add_argument("--snr", default="clean,20,10", help="comma list: clean and/or dB values")
    ap.add_argument("--work", default=os.environ.get("AK_ASR_WORK", "/tmp/ak_asr_wer"),
                    help="cache for synthesized and mixed audio")
    ap.add_argument("--level-db", type=float, default=-26.0, help="speech level, dBFS RMS")
    ap.add_argument("--lead-s", type=float, default=0.4, help="silence before speech")
    ap.add_argument("--trail-s", type=float, default=0.5, help="silence after speech")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cold", action="store_true",
                    help="every question is the first utterance of a new session (default: "
                         "all are one session's turns)")
    ap.add_argument("--label", default="", help="name of this configuration in the output")
    ap.add_argument("--json", help="write all results here")
    ap.add_argument("--show-errors", action="store_true", help="print each wrong transcript")
    args = ap.parse_args(argv)

    bad, oov = check_sets()
    if bad:
        print("question sets are not separated from the LM text:\n  " + "\n  ".join(bad))
        return 1
    voices = []
    for v in args.voices.split(","):
        for name in (GROUPS["tune"] + GROUPS["report"] + GROUPS["espeak"] if v == "all"
                     else GROUPS.get(v, [v])):
            if name not in VOICES:
                ap.error("unknown voice %s" % name)
            if not voice_available(name):
                print("skip %s: not installed" % name)
                continue
            voices.append(name)
    sets = args.sets.split(",")
    snrs = args.snr.split(",")
    items = []
    t0 = time.monotonic()
    for v in voices:
        items += [(v,) + it for it in prepare(args, v, sets, snrs)]
    # one condition and voice after another, like one user talking in one room: the
    # recognizer's cepstral mean adapts across utterances as it does in a session
    items.sort(key=lambda it: (snrs.index(it[3]), voices.index(it[0])))
    prep_s = time.monotonic() - t0
    drv = os.path.join(args.bin, "ak_bench_asr")
    t0 = time.monotonic()
    p = subprocess.run([drv] + (["--cold"] if args.cold else []) + extra, input="\n".join(it[4] for it in items) + "\n",
                       capture_output=True, text=True)
    if p.returncode:
        print(p.stderr)
        return 1
    heard = {}
    audio_ms = dec_ms = 0.0
    vad_ended = 0
    ended, split = {}, {}  # path -> VAD ended it before mic_end / cut into > 1 utterance
    for line in p.stdout.splitlines():
        f = line.split("\t")
        heard[f[0]] = f[1]
        vad_ended += int(f[3])
        ended[f[0]] = int(f[3])
        split[f[0]] = int(f[6]) > 1 if len(f) > 6 else int(f[2]) > 1
        audio_ms += float(f[4])
        dec_ms += float(f[5])
    run_s = time.monotonic() - t0

    res = {}
    errors = []
    for v, sname, q, snr, path in items:
        ref, hyp = normalize(q), normalize(heard.get(path, ""))
        e = edits(ref, hyp)
        r = res.setdefault((v, sname, snr), [0, 0, 0, 0])
        r[0] += e
        r[1] += len(ref)
        r[2] += e > 0
        r[3] += 1
        if e and args.show_errors:
            errors.append("%-13s %-4s %-5s %-45s -> %s" % (v, sname, snr, q, " ".join(hyp)))

    def wer(keys):
        e = sum(res[k][0] for k in keys if k in res)
        n = sum(res[k][1] for k in keys if k in res)
        return 100.0 * e / n if n else float("nan")

    label = args.label or " ".join(extra) or "default"
    print("ASR WER (%%), config: %s; %d utterances, %.0f s audio decoded in %.0f s (%.2fx real "
          "time), VAD ended %d of them before mic_end; audio prepared in %.0f s"
          % (label, len(items), audio_ms / 1e3, dec_ms / 1e3, dec_ms / max(audio_ms, 1),
             vad_ended, prep_s))
    # end-pointing per condition: how many turns the VAD ended on its own (hands-free needs
    # it), and how many it cut into more than one utterance with speech (a pause taken for
    # the end; the trailing silence after an end is not counted)
    print("end-pointing per SNR: " + "; ".join(
        "%s: VAD ended %d, split %d of %d" % (
            n, sum(ended.get(it[4], 0) for it in items if it[3] == n),
            sum(split.get(it[4], False) for it in items if it[3] == n),
            sum(1 for it in items if it[3] == n)) for n in snrs))
    print("out-of-vocabulary words, demo.lm / demo_wide.lm (quiet input): " + ", ".join(
        "%s %d / %d of %d" % (s, oov[s][0], oov[s][1], oov[s][2]) for s in sets))
    head = "| voice | " + " | ".join("%s %s" % (s, n) for s in sets for n in snrs) + " |"
    print(head)
    print("|" + "---|" * (1 + len(sets) * len(snrs)))
    for v in voices:
        print("| %s | " % v + " | ".join("%.1f" % wer([(v, s, n)]) for s in sets for n in snrs) + " |")
    for gname, members in GROUPS.items():
        vs = [v for v in voices if v in members]
        if len(vs) > 1 or (vs and len(voices) > len(vs)):
            print("| **%s (%d voices)** | " % (gname, len(vs)) + " | ".join(
                "**%.1f**" % wer([(v, s, n) for v in vs]) for s in sets for n in snrs) + " |")
    for line in errors:
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"label": label, "flags": extra,
                       "results": [{"voice": k[0], "set": k[1], "snr": k[2], "errors": r[0],
                                    "words": r[1], "wrong_sentences": r[2], "sentences": r[3]}
                                   for k, r in sorted(res.items())],
                       "heard": heard, "vad_ended": ended, "split": split,
                       "decode_s": dec_ms / 1e3, "audio_s": audio_ms / 1e3}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
