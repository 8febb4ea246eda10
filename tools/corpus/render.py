#!/usr/bin/python3
"""Renders labelled utterances of one non-espeak voice (tools/corpus/voices.tsv) for
ak_gen_data --list: one WAV (16-bit mono) and one label file (start end phone, seconds) per
utterance, and manifest lines `wav TAB lab TAB lang-id TAB voice-id TAB phone-set`.

Exact timing: MBROLA (espeak-ng --pho durations), flite (-psdur segment ends), Open JTalk
(trace output labels). SVOX pico and RHVoice give no timing: their audio is aligned to
renderings of the same text with exact labels by reference voices (MBROLA; for English also
flite), the best match kept per utterance (align(), align.py). Texts come from ak_gen_data
--print-text (the same syllable inventories as the espeak data), seeded by voice id.

Usage: render.py GEN_BIN VOICE_ID N OUTDIR [--seed S] [--aligned] [--texts FILE] > manifest
Deterministic for a given (voice, N, seed). --texts takes the texts from FILE (one per line,
in order) instead of the generator: words.py's dictionary-word sentences, for example.
--aligned labels an MBROLA or flite voice the way pico and RHVoice are labelled (its exact
labels thrown away, the audio aligned to the reference voice): the same audio under both
kinds of labels measures what the aligner costs an evaluation (docs/corpus.md)."""
import os
import random
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LANG_ID = {'en': 0, 'es': 1, 'de': 2, 'fr': 3, 'it': 4, 'cmn': 5, 'ja': 6, 'yue': 7,
           'nl': 8, 'cs': 9}
JTALK_DIC = '/var/lib/mecab/dic/open-jtalk/naist-jdic'
JTALK_VOICE = '/usr/share/hts-voice/nitech-jp-atr503-m001/nitech_jp_atr503_m001.htsvoice'
MBROLA_DIR = '/usr/share/mbrola'
# Reference MBROLA voice per language for aligning pico/RHVoice (a train voice).
ALIGN_REF = {'en': 'us1', 'de': 'de1', 'fr': 'fr1', 'es': 'es1', 'it': 'it1'}
# The references an aligned voice is aligned to (train voices; the best match per utterance
# is kept). English adds flite's awb and rms: the texts are pseudo-words, and flite spells
# them with CMU-dictionary letter-to-sound rules, as RHVoice does by its picks, where
# espeak-ng (which drives MBROLA) often spells them otherwise (2026-12-04, docs/corpus.md).
ALIGN_REFS = {lang: ['mbrola:' + ref] for lang, ref in ALIGN_REF.items()}
ALIGN_REFS['en'] += ['flite:awb', 'flite:rms']
# A later reference replaces the first only where its path cost is lower by this much (costs
# of different speakers are not equally scaled; align.py --measure-refs).
ALIGN_MARGIN = 0.2
# Each reference is also tried with its vocal tract shortened or lengthened (every frequency x
# w, align.align): the references are a woman (us1) and two men (awb, rms), and without it the
# path cost ranks references by the target's sex before its pronunciation.
ALIGN_WARPS = (1.0, 0.85, 1.18)
PICO_LANG = {'en-US', 'en-GB', 'de-DE', 'es-ES', 'fr-FR', 'it-IT'}
# espeak-ng 1.51 (Debian 12) names phones that some MBROLA databases lack (its es, it1, it3 and jp
# translation tables; fixed upstream later): mbrola -e replaces every diphone with such a phone
# by silence, which left silent stretches labelled as vowels (2026-12-03: 6-14 per Spanish or
# Italian sentence). Per voice: the espeak-ng voice that writes the phones and the renames
# into the database's own names (mbrola -i lists them). Labels keep espeak-ng's names. es3 is
# left out (voices.tsv split "none"): its table misses most transitions whatever the names.
_ES = {'e/': 'e', 'o/': 'o'}
_IT12 = {'U1': 'U2', 'dZ': 'gh', 'j': 'J', 'ss': 'SS', 'tS': 'ch'}
MBROLA_FIX = {
    'es1': ('es1', _ES), 'es2': ('es2', _ES),
    'es4': ('es1', dict(_ES, w='u')),  # es4's own table names phones es4 lacks (j, R2, L)
    # Mexican and Venezuelan Spanish: espeak-ng's own tables, but for l^ (the palatal of ll
    # and y), which mx1 calls jj and mx2 lacks (j is its nearest); vz1 still lacks a few
    # diphones (L-j, u-w), so nearly half of its texts are refused and replaced
    'mx1': ('mx1', dict(_ES, **{'l^': 'jj'})), 'mx2': ('mx2', dict(_ES, **{'l^': 'j'})),
    'vz1': ('vz1', dict(_ES, **{'l^': 'L', 'a/': 'a', 'i/': 'i', 'u/': 'u'})),
    'it1': ('it1', _IT12), 'it2': ('it2', _IT12),
    'it3': ('it3', {'i/': 'i', 'ss': 's'}), 'it4': ('it4', {'i/': 'i', 'ss': 's'}),
    # Dutch nl3 lacks most diphones with the voiced velar fricative G: its voiceless x instead
    'nl3': ('nl3', {'G': 'x'}),
    'jp1': ('jp1', {'r': 'rr', 'c': 'tS', 'U': 'u'}), 'jp3': ('jp3', {'r': 'rr', 'c': 'tS', 'U': 'u'}),
    # (phone, next phone): jp2 names the n of "ni" n1 and the moraic nasal by its place
    'jp2': ('jp2', {'c': 'tS', 'U': 'u', ('n', 'i'): 'n1', 'N': 'N:',
                    **{('N', c): 'G:' for c in ('k', 'g')},
                    **{('N', c): 'm:' for c in ('p', 'b', 'm')},
                    **{('N', c): 'n:' for c in ('t', 'd', 'n', 'ts', 'dz', 'tS', 'dZ', 'r', 's', 'z')}}),
}

# Label calibration (2026-12-04): the signed offset of each MBROLA voice's exact labels
# against its language's reference voice, measured by DTW without any model
# (`align.py --offsets 60`, docs/corpus.md). Every voice is within +-7.3 ms of its reference
# except us3, whose boundaries come 18 ms before the sound the other English voices' labels
# mark, and mx1 (added 2026-12-05), 13 ms before es1's. An MBROLA voice whose offset is a hop
# (10 ms) or more gets its inner boundaries moved by it (scaled by the utterance's tempo).
# flite and Open JTalk (measured against us1 and jp1, a looser comparison across techniques)
# are reported in docs/corpus.md, not calibrated.
MBROLA_LABEL_SHIFT_MS = {'us3': 18.0, 'mx1': 13.0}


def voices():
    out = {}
    with open(os.path.join(HERE, 'voices.tsv')) as f:
        next(f)
        for line in f:
            vid, name, fam, lang, split = line.rstrip('\n').split('\t')
            out[int(vid)] = dict(id=int(vid), name=name, family=fam, lang=lang, split=split)
    return out


def texts(gen, lang, n, seed):
    ja = lang == 'ja'
    r = subprocess.run([gen, '--print-text', lang, '--n', str(n), '--seed', str(seed)],
                       check=True, capture_output=True, text=True)
    lines = r.stdout.splitlines()
    assert len(lines) == n, (lang, len(lines))
    return [l.strip() for l in lines] if not ja else [l.strip() for l in lines]


def write_lab(path, segs):
    with open(path, 'w') as f:
        for s, e, name in segs:
            f.write('%.5f %.5f %s\n' % (s, e, name))


# ---- MBROLA ----
def mbrola_db(voice):
    """The database a voice name renders with: `sw1-en` (espeak-ng's English front end for
    the Swedish sw1 database) is sw1; plain names are their own."""
    return voice.split('-')[0]


def mbrola_db_path(voice):
    db = mbrola_db(voice)
    return os.path.join(MBROLA_DIR, db, db)


# Database symbols that are not SAMPA, per database (labels only; the pho keeps them): af1
# writes the diphthongs [@I 9u 9y] as & $ } (its README), nl2 the affricates of English as
# tj dj.
SAMPA_RENAME = {'af1': {'&': '@I', '$': '9u', '}': '9y'}, 'nl2': {'tj': 'tS', 'dj': 'dZ'}}


def sampa_name(voice, name):
    """it1 and it2 name their phones in capitals with stress digits (P A2 RR): lowercase
    them to SAMPA (affricates like dZ tS keep their case). Renames SAMPA_RENAME's symbols."""
    if voice in ('it1', 'it2') and re.fullmatch(r'[A-Z]+[0-9]*', name):
        return re.sub(r'[0-9]', '', name).lower()
    return SAMPA_RENAME.get(mbrola_db(voice), {}).get(name, name)


def mbrola_pho(voice, text, tempo=1.0, semitones=0.0):
    """espeak-ng's phoneme/duration/pitch list for an MBROLA voice, with tempo and pitch
    changes applied and phones renamed to the database's names (MBROLA_FIX). Returns
    (pho text, [(start, end, sampa)]): the labels keep espeak-ng's names."""
    driver, ren = MBROLA_FIX.get(voice, (voice, {}))
    r = subprocess.run(['espeak-ng', '-v', 'mb-' + driver, '-q', '--pho', text],
                       capture_output=True, text=True, check=True)
    out, segs, t = [], [], 0.0
    k = 2.0 ** (semitones / 12.0)
    lines = [f for f in (line.split() for line in r.stdout.splitlines())
             if f and not f[0].startswith(';')]
    for j, f in enumerate(lines):
        dur = max(1, int(round(float(f[1]) * tempo)))
        pts = f[2:]
        for i in range(1, len(pts), 2):
            pts[i] = str(int(round(float(pts[i]) * k)))
        nxt = lines[j + 1][0] if j + 1 < len(lines) else '_'
        name = ren.get((f[0], nxt), ren.get(f[0], f[0]))
        out.append(' '.join([name, str(dur)] + pts))
        segs.append((t, t + dur / 1000.0, sampa_name(driver, f[0])))
        t += dur / 1000.0
    return '\n'.join(out) + '\n', segs


def run_mbrola(db, pho, wav):
    """Renders a pho file; False when mbrola fails or had to replace a diphone it lacks by
    silence (its "unknown, replaced with _-_" warning under -e): such a rendering has silent
    stretches inside labelled phones."""
    r = subprocess.run(['mbrola', '-e', db, pho, wav], capture_output=True)
    return r.returncode == 0 and os.path.exists(wav) and b' unknown' not in r.stderr


def merge_pauses(segs):
    out = []
    for s in segs:
        if out and s[2] == '_' and out[-1][2] == '_':
            out[-1] = (out[-1][0], s[1], '_')
        else:
            out.append(s)
    return out


def render_mbrola(v, text, base, rnd):
    name = v['name'].split('-', 1)[1]
    tempo = rnd.uniform(0.8, 1.25)
    semi = rnd.uniform(-4.0, 4.0)
    pho, segs = mbrola_pho(name, text, tempo, semi)
    if len(segs) < 2:
        return None
    with open(base + '.pho', 'w') as f:
        f.write(pho)
    ok = run_mbrola(mbrola_db_path(name), base + '.pho', base + '.wav')
    os.unlink(base + '.pho')
    if not ok:
        return None
    write_lab(base + '.lab', shift_labels(merge_pauses(segs),
                                          MBROLA_LABEL_SHIFT_MS.get(name, 0.0) * tempo / 1000))
    return 'sampa'


def shift_labels(segs, dt):
    """Moves every inner boundary by dt seconds (the first start and the last end stay);
    a phone is never left shorter than 1 ms."""
    if not dt:
        return segs
    b = [segs[0][0]] + [e for _, e, _ in segs[:-1]] + [segs[-1][1]]
    for i in range(1, len(b) - 1):
        b[i] = min(max(b[i] + dt, b[i - 1] + 0.001), b[-1] - 0.001 * (len(b) - 1 - i))
    return [(b[i], b[i + 1], segs[i][2]) for i in range(len(segs))]


# ---- flite ----
def render_flite(v, text, base, rnd):
    name = v['name'].split('-', 1)[1]
    stretch = rnd.uniform(0.8, 1.25)
    args = ['flite', '-voice', name, '--setf', 'duration_stretch=%.3f' % stretch]
    # int_f0_target_mean moves the pitch of the clustergen voices (awb, rms, slt).
    base_f0 = {'awb': 105.0, 'rms': 100.0, 'slt': 170.0}.get(name)
    if base_f0:
        args += ['--setf', 'int_f0_target_mean=%.1f' % (base_f0 * 2 ** (rnd.uniform(-4, 4) / 12))]
    r = subprocess.run(args + ['-psdur', '-t', text, '-o', base + '.wav'],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None
    segs, t = [], 0.0
    for tok in r.stdout.split():
        m = re.match(r'^(.+):([0-9.]+)$', tok)
        if not m:
            continue
        e = float(m.group(2))
        if e > t:
            segs.append((t, e, m.group(1)))
            t = e
    if len(segs) < 2:
        return None
    write_lab(base + '.lab', segs)
    return 'arpabet'


# ---- Open JTalk ----
def render_jtalk(v, text, base, rnd):
    speed = rnd.uniform(0.8, 1.25)
    fm = rnd.uniform(-4, 4)
    tr = base + '.trace'
    r = subprocess.run(['open_jtalk', '-x', JTALK_DIC, '-m', JTALK_VOICE, '-r', '%.3f' % speed,
                        '-fm', '%.2f' % fm, '-ow', base + '.wav', '-ot', tr],
                       input=text, capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(tr):
        return None
    segs, on = [], False
    for line in open(tr, encoding='utf-8', errors='replace'):
        if line.startswith('[Output label]'):
            on = True
            continue
        if on:
            f = line.split()
            if len(f) < 3:
                if segs:
                    break
                continue
            m = re.search(r'-([^+]+)\+', f[2])
            if m:
                segs.append((int(f[0]) * 1e-7, int(f[1]) * 1e-7, m.group(1)))
    os.unlink(tr)
    if len(segs) < 2:
        return None
    write_lab(base + '.lab', segs)
    return 'jtalk'


# ---- pico / RHVoice (aligned) ----
def render_pico(v, text, base, rnd):
    loc = v['name'].split('-', 1)[1]
    assert loc in PICO_LANG
    spd = int(rnd.uniform(80, 125))
    pit = int(100 * 2 ** (rnd.uniform(-4, 4) / 12))
    markup = '<speed level="%d"><pitch level="%d">%s</pitch></speed>' % (spd, pit, text)
    r = subprocess.run(['pico2wave', '-l', loc, '-w', base + '.wav', markup], capture_output=True)
    return 'aligned' if r.returncode == 0 else None


def render_rhvoice(v, text, base, rnd):
    name = v['name'].split('-', 1)[1]
    rate = int(rnd.uniform(80, 125))
    pitch = int(100 * 2 ** (rnd.uniform(-4, 4) / 12))
    r = subprocess.run(['RHVoice-test', '-p', name, '-r', str(rate), '-t', str(pitch),
                        '-o', base + '.wav'], input=text, capture_output=True, text=True)
    return 'aligned' if r.returncode == 0 else None


def ref_render(ref, text, base):
    """Renders text with a reference voice ('mbrola:us1', 'flite:awb') at its own tempo and
    pitch into base.wav: (its exact labels, pauses named '_' and merged; phone set), or None."""
    import align as al
    fam, name = ref.split(':')
    if fam == 'flite':
        if not render_flite({'name': 'flite-' + name}, text, base, al._Mid()):
            return None
        segs = [(a, b, '_' if nm == 'pau' else nm) for a, b, nm in al.read_lab(base + '.lab')]
        os.unlink(base + '.lab')
        return merge_pauses(segs), 'arpabet'
    pho, segs = mbrola_pho(name, text)
    with open(base + '.pho', 'w') as f:
        f.write(pho)
    ok = run_mbrola(mbrola_db_path(name), base + '.pho', base + '.wav')
    os.unlink(base + '.pho')
    # a reference with silent holes would misplace the aligned boundaries
    return (merge_pauses(segs), 'sampa') if ok else None


def pick_reference(costs, margin=ALIGN_MARGIN):
    """Index of the reference to keep: the first (the language's MBROLA voice) unless
    another's path cost is lower by more than margin; then the lowest."""
    best = min(range(len(costs)), key=lambda i: costs[i])
    return best if costs[best] < costs[0] - margin else 0


def align_all(v, text, base, warps=ALIGN_WARPS):
    """base.wav aligned to each reference of v's language (never v itself): a list of
    (labels, path cost, phone set, reference) in ALIGN_REFS order, failed ones left out."""
    import align as al  # numpy; only needed for the aligned families
    got = []
    for ref in ALIGN_REFS[v['lang']]:
        if ref.replace(':', '-') == v['name']:  # --aligned on a reference voice itself
            continue
        r = ref_render(ref, text, base + '.ref')
        if not r:
            continue
        a = al.align_files(base + '.ref.wav', r[0], base + '.wav', with_cost=True, warps=warps)
        os.unlink(base + '.ref.wav')
        if a:
            got.append((a[0], a[1], r[1], ref))
    return got


def align(v, text, base, rnd):
    """Labels base.wav by the reference of its language whose rendering of the same text its
    audio matches best (the lowest mean feature distance along the warping path)."""
    got = align_all(v, text, base)
    if not got:
        return None
    out, _, style, ref = got[pick_reference([g[1] for g in got])]
    if style == 'arpabet':
        out = [(a, b, 'pau' if nm == '_' else nm) for a, b, nm in out]
    write_lab(base + '.lab', out)
    print('reference %s %s' % (os.path.basename(base), ref), file=sys.stderr)
    return style


FAMILY = {'mbrola': render_mbrola, 'flite': render_flite, 'openjtalk': render_jtalk,
          'pico': render_pico, 'rhvoice': render_rhvoice}


def main():
    a = sys.argv[1:]
    seed = 1
    force_align = '--aligned' in a
    if force_align:
        a.remove('--aligned')
    if '--seed' in a:
        i = a.index('--seed')
        seed = int(a[i + 1])
        del a[i:i + 2]
    text_file = None
    if '--texts' in a:
        i = a.index('--texts')
        text_file = a[i + 1]
        del a[i:i + 2]
    gen, vid, n, outdir = a[0], int(a[1]), int(a[2]), a[3]
    v = voices()[vid]
    if force_align and v['lang'] not in ALIGN_REF:
        sys.exit('render.py: --aligned: no reference voice for %s' % v['lang'])
    os.makedirs(outdir, exist_ok=True)
    lang = v['lang']
    # up to 3 N texts for N utterances: a rendering can be refused (an MBROLA diphone the
    # database lacks); the texts of a longer list start with those of a shorter one
    if text_file:
        with open(text_file, encoding='utf-8') as f:
            tl = [line.strip() for line in f if line.strip()][:3 * n]
    else:
        tl = texts(gen, lang, 3 * n, seed * 100003 + vid)
    rnd = random.Random(seed * 7919 + vid)
    ok = 0
    for i, text in enumerate(tl):
        if ok == n:
            break
        base = os.path.join(outdir, '%s_%05d' % (v['name'], i))
        if lang == 'ja' and v['family'] == 'mbrola':
            text = text.replace('\u3002', '\u3001')
        st = FAMILY[v['family']](v, text, base, rnd)
        if st == 'aligned' or (st and force_align):
            st = align(v, text, base, rnd)
        if not st:
            print('render failed: %s %r' % (base, text), file=sys.stderr)
            continue
        print('%s.wav\t%s.lab\t%d\t%d\t%s' % (base, base, LANG_ID[lang], vid, st))
        ok += 1
    print('%s: %d/%d utterances' % (v['name'], ok, n), file=sys.stderr)


if __name__ == '__main__':
    main()
