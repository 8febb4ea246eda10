#!/usr/bin/env python3
"""Builds the demo's domain language model for pocketsphinx (backend/asr/demo.lm, ARPA).

The text is generated from the templates below: the questions a visitor of the demo page asks
the avatar (greetings, who/what it is, time and date, what it can do, how the demo works) and
the short general questions people put to a voice assistant once a real LLM answers. Slots
({country}, {topic}, ...) are expanded in full; the trigram model is estimated with
interpolated Kneser-Ney discounting and written in ARPA backoff form, so word sequences that
no template produces still get a probability through the backoff weights. A second model,
demo_wide.lm, mixes the 2000 most probable words of a generic English LM (common_words.txt)
into the unigrams, for questions with words no template has.

No external LM toolkit is used. Every word must be in the pronunciation dictionary
(cmudict-en-us.dict of pocketsphinx-en-us); the build fails otherwise.

  /usr/bin/python3 backend/asr/build_lm.py [--dict PATH] [--out backend/asr/demo.lm]
        [--wide-out backend/asr/demo_wide.lm] [--common-n 2000] [--common-weight 0.1]
  /usr/bin/python3 backend/asr/build_lm.py --corpus     # print the sentences, one a line
  /usr/bin/python3 backend/asr/build_lm.py --check      # the committed models are up to date

bench/asr/ imports corpus() to prove that its held-out questions are not in this text.
"""
import argparse
import filecmp
import math
import os
import re
import shutil
import sys
import tempfile
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# Benchmark questions that must not be in the LM text (bench/asr/README.md).
EXCLUDE = ["bench/asr/dev.txt", "bench/asr/held_out.txt"]
DEFAULT_DICT = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"
# demo_wide.lm: the domain LM with the most probable generic English words mixed into its
# unigrams (--common-n, --common-weight), so words no template has are recognisable; the
# backend uses it for quiet input (--sphinx-lm-quiet). Chosen on the dev questions and tuning
# voices only (bench/asr/README.md): 1000 / 2000 / 5000 words gave dev WER 8.8 / 6.4 / 6.7 %.
COMMON_N = 2000
COMMON_WEIGHT = 0.1

SLOTS = {
    "greet": ["hello", "hi", "hey", "hello there", "hi there", "hey there", "good morning",
              "good afternoon", "good evening", "greetings"],
    "country": ["france", "germany", "spain", "italy", "japan", "china", "india", "brazil",
                "canada", "australia", "england", "mexico", "russia", "egypt", "sweden",
                "norway", "greece", "ireland", "scotland", "the united states", "america",
                "switzerland", "austria", "poland", "turkey", "korea", "argentina", "kenya"],
    "city": ["paris", "london", "berlin", "new york", "tokyo", "rome", "madrid", "sydney",
             "chicago", "boston", "san francisco", "los angeles", "moscow", "beijing",
             "dublin", "amsterdam", "vienna", "toronto", "seattle", "munich"],
    "language": ["english", "french", "german", "spanish", "italian", "japanese", "chinese",
                 "russian", "portuguese", "dutch", "arabic", "hindi", "korean"],
    "topic": ["artificial intelligence", "machine learning", "a black hole", "gravity",
              "the internet", "quantum physics", "photosynthesis", "a computer", "a neural network",
              "climate change", "the solar system", "the moon", "the sun", "electricity",
              "a language model", "speech recognition", "a rainbow", "democracy", "music",
              "the stock market", "evolution", "dna", "a volcano", "an atom", "the universe",
              "time", "love", "happiness", "a robot", "the weather", "the ocean", "lip sync",
              "an avatar", "a motion server", "text to speech", "a web socket", "python",
              "linux", "the cloud", "bitcoin", "chess", "football", "coffee", "a pizza"],
    "person": ["albert einstein", "isaac newton", "marie curie", "william shakespeare",
               "leonardo da vinci", "mozart", "napoleon", "abraham lincoln", "cleopatra",
               "charles darwin", "nikola tesla", "alan turing", "the president", "the queen",
               "elvis presley", "the beatles", "steve jobs", "bill gates"],
    "thing": ["a car", "a plane", "an airplane", "a rocket", "a computer", "the internet",
              "a phone", "the brain", "the heart", "a battery", "a microphone", "a camera",
              "the avatar", "this demo", "speech recognition", "your voice", "your face",
              "lip sync", "the motion server", "a fridge", "a clock", "the weather", "wifi",
              "a magnet", "a rainbow", "a language model"],
    "fav": ["color", "colour", "food", "movie", "film", "book", "song", "animal", "band",
            "sport", "season", "number", "city", "game", "drink", "fruit", "word", "place"],
    "likes": ["music", "movies", "books", "sports", "football", "dogs", "cats", "pizza",
              "chocolate", "coffee", "tea", "people", "humans", "talking", "math",
              "science", "poetry", "jokes", "your job", "the rain", "summer", "winter",
              "dancing", "singing", "robots", "video games"],
    "can": ["sing", "dance", "sing a song", "tell jokes", "tell a joke", "hear me",
            "see me", "understand me", "help me", "speak french", "speak german",
            "speak spanish", "speak other languages", "speak slower", "speak faster",
            "speak louder", "smile", "laugh", "think", "feel", "learn", "remember me",
            "count to ten", "spell your name", "read", "write", "move your head",
            "blink", "open your mouth", "wink", "whistle", "cook", "play chess",
            "tell me a story", "tell me the time", "tell me the date", "do math",
            "translate", "answer questions"],
    "tell": ["a joke", "another joke", "a funny joke", "a story", "a short story",
             "a bedtime story", "a fun fact", "an interesting fact", "a riddle", "a poem",
             "a secret", "something interesting", "something funny", "something about yourself",
             "something about you", "about yourself", "about you", "about this demo",
             "about the avatar", "about your voice", "about the weather",
             "about the news", "about your day", "the time", "the date", "the news",
             "what you can do", "what you know", "what time it is", "what day it is",
             "how you work", "how this works", "who made you", "who you are",
             "your name", "more", "more about that", "a quote", "about {topic}",
             "about {person}", "about {country}", "about {city}"],
    "num": ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
            "eleven", "twelve", "fifteen", "twenty", "fifty", "a hundred", "one hundred",
            "a thousand"],
    "op": ["plus", "minus", "times", "divided by"],
    "unit": ["seconds", "minutes", "hours", "days", "weeks", "months", "years",
             "feet", "inches", "meters", "miles", "kilometers", "grams", "pounds", "ounces"],
    "unit1": ["minute", "hour", "day", "week", "month", "year", "mile", "kilometer",
              "meter", "foot", "pound", "kilogram"],
    "meal": ["breakfast", "lunch", "dinner"],
    "rec": ["a book", "a movie", "a film", "a song", "a good book", "a good movie",
            "a restaurant", "a game", "some music", "a podcast", "a recipe"],
    "day": ["today", "tomorrow", "yesterday", "now", "right now", "this week", "this weekend",
            "tonight"],
    "super": ["biggest", "largest", "smallest", "tallest", "longest", "oldest", "fastest",
              "highest", "deepest", "hottest", "coldest"],
    "superthing": ["country", "city", "animal", "mountain", "river", "ocean", "planet",
                   "building", "lake", "desert", "tree", "bird", "fish", "star", "island"],
}

# "{x}" expands a slot; "[a|b]" is a choice; "(a)" is optional. Combinations are expanded in
# full, so keep the product of a template's slots small.
TEMPLATES = [
    # greetings and small talk
    "{greet}", "{greet} avatar", "{greet} how are you", "{greet} how are you (doing) today",
    "{greet} who are you", "{greet} what can you do", "{greet} what time is it",
    "{greet} nice to meet you", "{greet} can you hear me",
    "how are you", "how are you (doing) today", "how are you doing", "how is it going",
    "how's it going", "how are things", "how's your day", "how is your day (going)",
    "how was your day", "what's up", "what is up", "what's new", "nice to meet you",
    "good to see you", "i am fine (thank you)", "i'm fine (thanks)", "i am good", "i'm good",
    "i am doing well", "i'm doing great", "not bad", "not too bad", "great (thanks)",
    "[thank you|thanks] (very much|so much|a lot)", "[thank you|thanks] that was (very) helpful",
    "that's [great|cool|nice|funny|interesting|amazing|wonderful|awesome]",
    "that is [great|cool|nice|funny|interesting|amazing|wonderful|awesome]",
    "[yes|no|okay|ok|sure|right|alright|yeah|nope] (please|thanks)",
    "[goodbye|bye|bye bye|see you|see you later|see you soon|good night|talk to you later]",
    "i have to go (now)", "i'll see you later", "have a nice day", "have a good day",
    "sorry", "sorry i didn't catch that", "[can|could] you repeat that (please)",
    "say that again", "please say that again", "what did you say", "i don't understand",
    "never mind", "stop", "please stop", "wait", "be quiet", "go on", "continue", "keep going",
    "tell me more", "what else", "really", "why", "why not", "how", "what", "and you",
    "what about you", "me too", "i agree", "i don't know", "i love you", "you are funny",
    "you're funny", "you are [smart|cute|awesome|great|nice|clever|weird|beautiful|ugly]",
    "you're [smart|cute|awesome|great|nice|clever|weird|beautiful]",
    # who and what it is
    "who are you", "what are you", "what is your name", "what's your name",
    "do you have a name", "tell me about yourself", "introduce yourself",
    "[please|can you|could you] introduce yourself", "who am i talking to",
    "are you [a robot|real|human|a person|alive|a computer|an ai|an avatar|a machine|smart|happy|sad|conscious|a program|a bot]",
    "are you an artificial intelligence", "who [made|built|created|designed|programmed] you",
    "who is your [creator|maker]", "how old are you", "when were you [born|made|created]",
    "where are you from", "where do you live", "where are you", "what do you look like",
    "what is your [job|purpose|favorite thing]", "what do you do", "what do you like",
    "what do you [like|love|enjoy] doing", "do you have [feelings|emotions|a body|friends|a family|a brain|a face]",
    "do you [dream|sleep|eat|think|feel|learn|remember|understand me|know me|like me|have fun]",
    "are you [listening|there|awake|ok|okay|ready|still there]",
    "what is your favorite {fav}", "what's your favorite {fav}", "do you have a favorite {fav}",
    "do you like {likes}", "do you [love|enjoy|hate] {likes}",
    # what it can do, how the demo works
    "what can you do", "what else can you do", "what [can|should] i ask you",
    "what do you know", "what do you know about {topic}", "how do you work",
    "how does this work", "how does this demo work", "how does the avatar work",
    "how does {thing} work", "how do you [talk|speak|move|listen|hear me|understand me|move your lips|move your face|know the time|answer so fast]",
    "can you {can}", "could you {can}", "can you {can} please", "will you {can}",
    "please {can}", "do you {can}", "how [can|do] i [talk to you|use this|use this demo|connect a language model|make you smarter|change your voice|change the avatar]",
    "can i [talk to you|ask you a question|ask you something|change your voice|change the avatar]",
    "i have a question", "let me ask you something", "help", "help me", "i need help",
    "can you help me (please)", "what is this", "what is this demo", "what is this page",
    "what is [avatar kit|the motion server|lip sync|the backend|a language model|your voice]",
    "which [language model|voice|model|engine] [is this|are you|do you use]",
    "what language model [is this|are you|do you use]", "are you [using|running] a language model",
    "is this running locally", "are you running on my computer", "is this real time",
    "how fast [are you|can you answer|can you talk]", "why is your voice [so slow|robotic|strange]",
    "what languages do you speak", "what languages can you speak", "do you speak {language}",
    "can you speak {language}", "how do you say [hello|thank you|goodbye|good morning|i love you] in {language}",
    "translate [hello|thank you|goodbye|good morning] into {language}",
    # time and date
    "what time is it", "what time is it (right) now", "what's the time", "what is the time",
    "what is the time (right) now", "what's the time (right) now",
    "[can|could] you tell me the time (please)", "[can|could] you tell me what time it is (please)",
    "do you know what time it is", "do you know the time", "tell me the time (please)",
    "what time is it in {city}", "what is the time in {city}", "what's the time in {city}",
    "what day is it (today)", "what day is today", "what is the date (today)",
    "what's the date (today)", "what is today's date", "what's today's date", "what date is it (today)",
    "which day is it (today)", "what day of the week is it (today)", "what year is it",
    "what month is it", "what is the date tomorrow", "what day is [it tomorrow|tomorrow]",
    "[can|could] you tell me the date (please)", "do you know what day it is",
    "tell me the date (please)", "tell me what day it is", "is it [morning|afternoon|evening|late|the weekend] (now)",
    "how many days until [christmas|the weekend|new year|friday|my birthday]",
    "when is [christmas|easter|new year|thanksgiving|the weekend]",
    # weather
    "what's the weather (like) {day}", "what is the weather (like) {day}",
    "what's the weather (like) in {city}", "what is the weather (like) in {city}",
    "how is the weather {day}", "how's the weather {day}", "how is the weather in {city}",
    "will it rain {day}", "is it going to rain {day}", "is it [cold|hot|warm|sunny|raining|snowing] [outside|today|in {city}]",
    "what is the temperature (outside|today)", "what's the temperature (outside|today)",
    "do i need an umbrella (today)",
    # general knowledge, once a real LLM answers
    "what is the capital of {country}", "what's the capital of {country}",
    "what is the population of {country}", "what language do they speak in {country}",
    "where is {country}", "where is {city}", "how far is {city} from {city}",
    "what is {topic}", "what's {topic}", "what are [black holes|atoms|robots|neural networks|language models|stars|planets|dinosaurs]",
    "explain {topic}", "explain {topic} to me", "can you explain {topic} (to me)",
    "[how does|how do] {topic} work", "why is the sky blue", "why is the ocean salty",
    "why do [cats purr|dogs bark|birds sing|we sleep|we dream|leaves change color]",
    "who [is|was] {person}", "who invented [the telephone|the light bulb|the internet|the computer|the car|the airplane|electricity|the radio]",
    "when did [world war two end|humans land on the moon|the titanic sink|the internet start]",
    "how [far|big|old|hot|cold|heavy] is [the moon|the sun|the earth|mars|the universe|mount everest|the ocean]",
    "how tall is [mount everest|the eiffel tower|a giraffe|an elephant]",
    "how many [people live on earth|planets are there|continents are there|countries are there|legs does a spider have|bones are in the human body|days are in a year|hours are in a day]",
    "how many {unit} are in a {unit1}", "how many {unit} [are there ]in a {unit1}",
    "what is the {super} {superthing} (in the world)", "what's the {super} {superthing} (in the world)",
    "which is the {super} {superthing} (in the world)",
    "what is {num} {op} {num}", "what's {num} {op} {num}", "how much is {num} {op} {num}",
    "what is the square root of {num}", "what is the meaning of life",
    "what is the answer to life the universe and everything",
    "tell me {tell}", "please tell me {tell}", "[can|could] you tell me {tell}",
    "do you know {tell}", "i want to hear {tell}", "say something", "say something funny",
    "say [hello|hi|goodbye|something nice|something smart|my name|your name]",
    "sing [a song|me a song|happy birthday]", "make me laugh", "cheer me up",
    "[recommend|suggest] {rec}", "can you [recommend|suggest] {rec}",
    "what should i [eat|cook|have] for {meal}", "what should i [do|watch|read|listen to] (today|tonight)",
    "what [is|was] the news (today)", "what's [new|happening] (today)", "what's going on (today)",
    "give me [a recipe for {meal}|some advice|an idea|a compliment|a hint|a number]",
    "i am [bored|tired|hungry|happy|sad|sleepy|lonely|busy|stressed]",
    "i'm [bored|tired|hungry|happy|sad|sleepy|lonely|busy|stressed]",
    "what is a good name for a [dog|cat|band|company|baby]",
    "repeat [after me|that|the quick brown fox|the quick brown fox jumps over the lazy dog|hello world|my name]",
    "say [the quick brown fox|hello world|it again]", "echo hello",
    "pleased to meet you", "what is your age", "what's your age",
    "flip a coin", "roll a dice", "pick a number (between one and ten)",
    "what is the weather going to be like {day}",
]


CONTRACTIONS = {
    "what's": "what is", "it's": "it is", "that's": "that is", "there's": "there is",
    "here's": "here is", "who's": "who is", "where's": "where is", "how's": "how is",
    "when's": "when is", "why's": "why is", "he's": "he is", "she's": "she is",
    "let's": "let us", "i'm": "i am", "you're": "you are", "we're": "we are",
    "they're": "they are", "i've": "i have", "you've": "you have", "we've": "we have",
    "i'll": "i will", "you'll": "you will", "we'll": "we will", "it'll": "it will",
    "i'd": "i would", "you'd": "you would", "don't": "do not", "doesn't": "does not",
    "didn't": "did not", "can't": "can not", "cannot": "can not", "won't": "will not",
    "isn't": "is not", "aren't": "are not", "wasn't": "was not", "weren't": "were not",
    "couldn't": "could not", "wouldn't": "would not", "shouldn't": "should not",
    "haven't": "have not", "hasn't": "has not", "gonna": "going to", "wanna": "want to",
}
SPELLING = {"ok": "okay", "colour": "color", "favourite": "favorite", "centre": "center",
            "metres": "meters", "kilometres": "kilometers", "metre": "meter"}


def normalize(s):
    """Words of s for comparison: lower case, no punctuation, contractions expanded. The WER
    benchmark scores with this too."""
    s = s.lower().replace("-", " ")
    s = re.sub(r"[^a-z0-9' ]+", " ", s)
    out = []
    for w in s.split():
        w = w.strip("'")
        if not w:
            continue
        w = SPELLING.get(w, w)
        out.extend(CONTRACTIONS.get(w, w).split())
    return out


def _expand(t):
    """Yields every string a template describes (choices, optionals; slots stay as {x})."""
    m = re.search(r"\[([^\[\]]*)\]|\(([^()]*)\)", t)
    if not m:
        yield t
        return
    if m.group(1) is not None:
        opts = m.group(1).split("|")
    else:
        opts = m.group(2).split("|") + [""]
    for o in opts:
        yield from _expand(t[:m.start()] + o + t[m.end():])


def _fill(t):
    m = re.search(r"\{(\w+)\}", t)
    if not m:
        yield t
        return
    for v in SLOTS[m.group(1)]:
        for w in _expand(v):
            yield from _fill(t[:m.start()] + w + t[m.end():])


def excluded():
    """Normalised questions kept out of the LM text: the WER benchmark's dev and held-out sets."""
    out = set()
    for name in EXCLUDE:
        path = os.path.join(ROOT, name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                out |= {" ".join(normalize(ln)) for ln in f if ln.strip() and ln[0] != "#"}
    return out


def corpus():
    """The sorted, de-duplicated sentences of the LM text (lower case, words and apostrophes),
    without any sentence that normalises to an excluded question."""
    out = set()
    skip = excluded()
    for t in TEMPLATES:
        for e in _expand(t):
            for s in _fill(e):
                s = " ".join(s.split())
                if s and " ".join(normalize(s)) not in skip:
                    out.add(s)
    return sorted(out)


def load_dict(path):
    words = set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            w = line.split(" ", 1)[0]
            words.add(re.sub(r"\(\d+\)$", "", w))
    return words


def load_common(path, n):
    """The n most probable generic words and their unigram probabilities, renormalised."""
    rows = []
    with open(path, encoding="ascii") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            lp, w = line.split()
            rows.append((w, 10 ** float(lp)))
            if len(rows) == n:
                break
    tot = sum(p for _, p in rows)
    return {w: p / tot for w, p in rows}


def kneser_ney(sents, order=3, discount=None, background=None, weight=0.0):
    """Interpolated Kneser-Ney trigram in ARPA backoff form: {n: {ngram: (log10 p, log10 bow)}}.
    background: {word: p}, mixed into the unigram level with this weight, so its words are
    recognisable (through the backoff) without any sentence of them in the text."""
    counts = [None] + [defaultdict(int) for _ in range(order)]
    for s in sents:
        w = ["<s>"] + s.split() + ["</s>"]
        for n in range(1, order + 1):
            for i in range(len(w) - n + 1):
                g = tuple(w[i:i + n])
                if n == 1 and g == ("<s>",):
                    continue
                counts[n][g] += 1
    # lower orders use continuation counts (distinct left contexts), except n-grams that
    # start the sentence, whose left context is never seen
    cc = [None] + [defaultdict(int) for _ in range(order)]
    cc[order] = counts[order]
    for n in range(order - 1, 0, -1):
        for g in counts[n + 1]:
            cc[n][g[1:]] += 1
        for g, c in counts[n].items():
            if g[0] == "<s>":
                cc[n][g] = c
    if discount is None:
        discount = []
        for n in range(1, order + 1):
            n1 = sum(1 for c in cc[n].values() if c == 1)
            n2 = sum(1 for c in cc[n].values() if c == 2)
            d = n1 / (n1 + 2.0 * n2) if n1 + n2 else 0.5
            discount.append(min(max(d, 0.1), 0.9))
    background = background or {}
    vocab = sorted({g[0] for g in cc[1]} | {"<s>"} | set(background))
    model = {n: {} for n in range(1, order + 1)}
    # unigrams: discounted continuation counts plus a uniform share
    tot = sum(cc[1].values())
    d1 = discount[0]
    kept = sum(1 for g in cc[1])
    gamma0 = d1 * kept / tot
    uni = {}
    for w in vocab:
        c = cc[1].get((w,), 0)
        uni[(w,)] = max(c - d1, 0) / tot + gamma0 / len(vocab)
        if background:
            uni[(w,)] = (1 - weight) * uni[(w,)] + weight * background.get(w, 0.0)
    prob = {1: uni}
    for n in range(2, order + 1):
        d = discount[n - 1]
        hist_tot = defaultdict(int)
        hist_types = defaultdict(int)
        for g, c in cc[n].items():
            hist_tot[g[:-1]] += c
            hist_types[g[:-1]] += 1
        pn = {}
        for g, c in cc[n].items():
            h = g[:-1]
            gamma = d * hist_types[h] / hist_tot[h]
            pn[g] = max(c - d, 0) / hist_tot[h] + gamma * prob[n - 1][g[1:]]
        prob[n] = pn
        for h in hist_tot:
            bow = d * hist_types[h] / hist_tot[h]
            model.setdefault("bow", {})[h] = bow
    bows = model.pop("bow", {})
    for n in range(1, order + 1):
        for g, p in prob[n].items():
            lp = -99.0 if g == ("<s>",) else math.log10(p)
            b = bows.get(g) if n < order else None
            model[n][g] = (lp, None if b is None else math.log10(b))
    return model, discount


def write_arpa(model, path, header):
    order = max(model)
    with open(path, "w", encoding="ascii") as f:
        for line in header:
            f.write("# " + line + "\n")
        f.write("\n\\data\\\n")
        for n in range(1, order + 1):
            f.write("ngram %d=%d\n" % (n, len(model[n])))
        for n in range(1, order + 1):
            f.write("\n\\%d-grams:\n" % n)
            for g in sorted(model[n]):
                lp, lb = model[n][g]
                if lb is None:
                    f.write("%.4f %s\n" % (lp, " ".join(g)))
                else:
                    f.write("%.4f %s %.4f\n" % (lp, " ".join(g), lb))
        f.write("\n\\end\\\n")


def build(sents, known, out, background, weight, common_name):
    words = sorted({w for s in sents for w in s.split()} | set(background))
    if known is not None:
        missing = [w for w in words if w not in known]
        if missing:
            print("words missing from the dictionary: %s" % " ".join(missing), file=sys.stderr)
            return 1
    model, disc = kneser_ney(sents, background=background, weight=weight)
    header = [
        "AvatarKit demo domain language model: generated by backend/asr/build_lm.py, do not edit.",
        "%d sentences from %d templates, %d words; interpolated Kneser-Ney trigram, discounts %s"
        % (len(sents), len(TEMPLATES), len(words), " ".join("%.3f" % d for d in disc)),
    ]
    if background:
        header.append("unigrams mixed with the %d most probable words of %s at weight %g"
                      % (len(background), common_name, weight))
    write_arpa(model, out, header)
    print("%s: %d sentences, %d words, n-grams %s" % (
        out, len(sents), len(words), " ".join(str(len(model[n])) for n in sorted(model))))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dict", default=DEFAULT_DICT)
    ap.add_argument("--out", default=os.path.join(HERE, "demo.lm"),
                    help="the domain LM (the backend's --sphinx-lm)")
    ap.add_argument("--wide-out", default=os.path.join(HERE, "demo_wide.lm"),
                    help="the domain LM with common words mixed in (--sphinx-lm-quiet); "
                         "'' to skip")
    ap.add_argument("--corpus", action="store_true", help="print the LM text and exit")
    ap.add_argument("--check", action="store_true",
                    help="build into a temporary directory and fail unless the results equal "
                         "--out and --wide-out (the committed models are this script's output)")
    ap.add_argument("--common-words", default=os.path.join(HERE, "common_words.txt"),
                    help="generic word list with log10 probabilities (most probable first)")
    ap.add_argument("--common-n", type=int, default=COMMON_N,
                    help="how many of its words join the wide LM's vocabulary")
    ap.add_argument("--common-weight", type=float, default=COMMON_WEIGHT,
                    help="their share of the wide LM's unigram probability")
    a = ap.parse_args()
    sents = corpus()
    if a.corpus:
        sys.stdout.write("\n".join(sents) + "\n")
        return 0
    known = None
    if os.path.exists(a.dict):
        known = load_dict(a.dict)
    else:
        print("note: %s absent, words not checked" % a.dict, file=sys.stderr)
    outs = [(a.out, {}, 0.0)]
    if a.wide_out:
        outs.append((a.wide_out, load_common(a.common_words, a.common_n), a.common_weight))
    tmp = tempfile.mkdtemp() if a.check else None
    try:
        for path, background, weight in outs:
            dest = os.path.join(tmp, os.path.basename(path)) if tmp else path
            if build(sents, known, dest, background, weight, os.path.basename(a.common_words)):
                return 1
            if tmp and not filecmp.cmp(dest, path, shallow=False):
                print("%s is not what build_lm.py makes; run it again" % path, file=sys.stderr)
                return 1
    finally:
        if tmp:
            shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
