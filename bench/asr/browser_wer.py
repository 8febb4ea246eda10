#!/usr/bin/env python3
"""Word error rate of speech input through the browser, beside the direct backend path.

The same files as wer.py (voices, question sets, SNRs, level, lead/trail silence) are heard
twice: directly (ak_bench_asr: the backend's VAD and recognizer fed as the page would feed
them) and through headless Chromium (bench/asr/browser_asr.mjs: the fake microphone plays the
file into the demo page's push-to-talk, so getUserMedia, the browser's echo cancellation /
noise suppression / gain control, its 16 kHz AudioContext and the page's mic_audio messages
are all in the path). The difference is what the browser does to speech.

  /usr/bin/python3 bench/asr/browser_wer.py [--bin build/bin] [--voices pico-en-GB,...]
        [--sets in,held] [--snr clean,10] [--per-set N] [--apm on,off]

Needs Chromium, web/node_modules (playwright-core) and web/dist (npm ci && npm run build in
web/). About 6 s per file and browser setting on a 2-core machine.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import wer  # noqa: E402


def score(items, heard):
    e = n = wrong = 0
    for _v, _s, q, _snr, path in items:
        ref, hyp = wer.normalize(q), wer.normalize(heard.get(path, ""))
        d = wer.edits(ref, hyp)
        e += d
        n += len(ref)
        wrong += d > 0
    return 100.0 * e / max(n, 1), wrong


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(wer.ROOT, "build", "bin"))
    ap.add_argument("--voices", default="pico-en-GB,rhvoice-alan,mbrola-us2")
    ap.add_argument("--sets", default="in,held")
    ap.add_argument("--snr", default="clean")
    ap.add_argument("--per-set", type=int, default=8, help="first N questions of each set")
    ap.add_argument("--apm", default="on,off", help="browser audio processing: on, off or both")
    ap.add_argument("--work", default=os.environ.get("AK_ASR_WORK", "/tmp/ak_asr_wer"))
    ap.add_argument("--level-db", type=float, default=-26.0)
    ap.add_argument("--lead-s", type=float, default=0.4)
    ap.add_argument("--trail-s", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--show-errors", action="store_true")
    args = ap.parse_args()

    sets, snrs = args.sets.split(","), args.snr.split(",")
    items = []
    for v in args.voices.split(","):
        if not wer.voice_available(v):
            print("skip %s: not installed" % v)
            continue
        per = {}
        for it in wer.prepare(args, v, sets, snrs):
            if per.setdefault((it[0], it[2]), 0) < args.per_set:
                per[(it[0], it[2])] += 1
                items.append((v,) + it)
    if not items:
        print("no voice available")
        return 1
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as f:
        f.write("\n".join(it[4] for it in items) + "\n")
        listing = f.name
    t0 = time.monotonic()
    # the first file once more before the measured ones (the browser side does the same): a
    # warm-up turn for the recognizers' cepstral mean; the later line of that path counts
    paths = [items[0][4]] + [it[4] for it in items]
    p = subprocess.run([os.path.join(args.bin, "ak_bench_asr")], input="\n".join(paths) + "\n",
                       capture_output=True, text=True, check=True)
    direct = {ln.split("\t")[0]: ln.split("\t")[1] for ln in p.stdout.splitlines()}
    print("%d files (%s; %s; %s; first %d questions of each set), direct path in %.0f s"
          % (len(items), ",".join(sorted({it[0] for it in items})), args.sets, args.snr,
             args.per_set, time.monotonic() - t0))
    rows = [("direct (ak_bench_asr)", direct)]
    for apm in args.apm.split(","):
        t0 = time.monotonic()
        p = subprocess.run(["node", os.path.join(HERE, "browser_asr.mjs"), args.bin, listing,
                            "--apm", apm], capture_output=True, text=True)
        if p.returncode:
            print(p.stderr[-2000:])
            return 1
        sent = [ln for ln in p.stderr.splitlines() if " s sent by the page" in ln]
        if args.show_errors:
            print("\n".join(sent))
        heard = {}
        for ln in p.stdout.splitlines():
            f = ln.split("\t")
            heard[f[0]] = f[1] if len(f) > 1 else ""
        rows.append(("browser, audio processing %s" % apm, heard))
        print("browser (--apm %s) in %.0f s" % (apm, time.monotonic() - t0))
    os.unlink(listing)
    print("| path | WER % | sentences wrong |")
    print("|---|---|---|")
    for name, heard in rows:
        w, wrong = score(items, heard)
        print("| %s | %.1f | %d of %d |" % (name, w, wrong, len(items)))
    if args.show_errors:
        for v, s, q, snr, path in items:
            outs = [heard.get(path, "") for _n, heard in rows]
            if any(wer.normalize(o) != wer.normalize(q) for o in outs):
                print("%-13s %-5s %-40s -> %s" % (v, snr, q, " | ".join(outs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
