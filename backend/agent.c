/* The built-in local agent: a small rule and template based conversationalist used when no
 * LLM is configured. It answers greetings, the time and date, questions about itself and the
 * demo, small arithmetic, a joke, and repeats what it is asked to repeat; anything else gets
 * what it can do and how to plug a language model in, so the demo works with no account or
 * key and says honestly what it is. */
#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "backend.h"

/* Lower-cases input into out, keeping letters, digits, apostrophes and single spaces. */
static void normalize(const char *in, char *out, size_t cap) {
  size_t o = 0;
  int space = 1;
  for (const char *p = in; *p && o + 2 < cap; p++) {
    unsigned char c = (unsigned char)*p;
    if (isalnum(c) || c == '\'') {
      out[o++] = (char)tolower(c);
      space = 0;
    } else if (!space) {
      out[o++] = ' ';
      space = 1;
    }
  }
  while (o && out[o - 1] == ' ') o--;
  out[o] = 0;
}

/* 1 when word (or phrase) occurs in s on word boundaries. */
static int has(const char *s, const char *word) {
  size_t wl = strlen(word);
  for (const char *p = strstr(s, word); p; p = strstr(p + 1, word)) {
    int left = p == s || p[-1] == ' ';
    int right = p[wl] == 0 || p[wl] == ' ';
    if (left && right) return 1;
  }
  return 0;
}

static int starts(const char *s, const char *word) {
  size_t wl = strlen(word);
  return strncmp(s, word, wl) == 0 && (s[wl] == 0 || s[wl] == ' ');
}

/* A question or request for information. */
static int asks(const char *s) {
  return has(s, "what") || has(s, "what's") || has(s, "whats") || has(s, "tell") || has(s, "know");
}

/* A number word or digits (one token of the normalized text, n bytes): 1 with *v set, or 0. */
static int number_word(const char *tok, size_t n, double *v) {
  static const char *ones[] = {"zero",    "one",     "two",       "three",    "four",
                               "five",    "six",     "seven",     "eight",    "nine",
                               "ten",     "eleven",  "twelve",    "thirteen", "fourteen",
                               "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
  static const char *tens[] = {"twenty", "thirty",  "forty",  "fifty",
                               "sixty",  "seventy", "eighty", "ninety"};
  if (n && n < 16 && isdigit((unsigned char)tok[0])) {
    char b[16];
    memcpy(b, tok, n);
    b[n] = 0;
    char *end;
    double d = strtod(b, &end);
    if (*end) return 0;
    *v = d;
    return 1;
  }
  for (int i = 0; i < 20; i++)
    if (strlen(ones[i]) == n && strncmp(ones[i], tok, n) == 0) {
      *v = i;
      return 1;
    }
  for (int i = 0; i < 8; i++)
    if (strlen(tens[i]) == n && strncmp(tens[i], tok, n) == 0) {
      *v = 20 + 10 * i;
      return 1;
    }
  return 0;
}

/* Reads a number (digits, or words such as "twenty one") at *p in normalized text. */
static int read_number(const char **p, double *v) {
  const char *s = *p;
  size_t n = strcspn(s, " ");
  double a;
  if (!number_word(s, n, &a)) return 0;
  s += n;
  if (a >= 20 && a < 100 && (long)a % 10 == 0 && *s == ' ') { /* "twenty one" */
    size_t m = strcspn(s + 1, " ");
    double b;
    if (number_word(s + 1, m, &b) && b >= 1 && b <= 9) {
      a += b;
      s += 1 + m;
    }
  }
  *v = a;
  *p = s;
  return 1;
}

/* "what is 12 times 7", "3 plus four": writes the answer and returns 1, else 0. */
static int arithmetic(const char *s, char *out, size_t cap) {
  static const struct {
    const char *word;
    char op;
  } OPS[] = {{" plus ", '+'},          {" add ", '+'}, {" minus ", '-'},      {" times ", '*'},
             {" multiplied by ", '*'}, {" x ", '*'},   {" divided by ", '/'}, {" over ", '/'}};
  for (const char *p = s; *p; p++) {
    if (p != s && p[-1] != ' ') continue;
    const char *q = p;
    double a, b;
    if (!read_number(&q, &a)) continue;
    for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++) {
      size_t wl = strlen(OPS[i].word);
      if (strncmp(q, OPS[i].word, wl) != 0) continue;
      const char *r = q + wl;
      if (!read_number(&r, &b)) continue;
      double x = OPS[i].op == '+' ? a + b : OPS[i].op == '-' ? a - b : OPS[i].op == '*' ? a * b : 0;
      const char *name = OPS[i].op == '+'   ? "plus"
                         : OPS[i].op == '-' ? "minus"
                         : OPS[i].op == '*' ? "times"
                                            : "divided by";
      if (OPS[i].op == '/' && b == 0) {
        snprintf(out, cap, "Dividing by zero has no answer, not even for an avatar.");
        return 1;
      }
      if (OPS[i].op == '/') x = a / b;
      snprintf(out, cap, "%.10g %s %.10g is %.6g.", a, name, b, x);
      return 1;
    }
  }
  return 0;
}

/* The text after a leading command word ("repeat", "echo", "say"), trimmed and bounded. */
static void after_command(const char *input, char *out, size_t cap) {
  const char *p = input;
  while (*p && !isalpha((unsigned char)*p)) p++;
  while (*p && isalpha((unsigned char)*p)) p++; /* the command word */
  while (*p && (isspace((unsigned char)*p) || *p == ':' || *p == ',')) p++;
  size_t n = strlen(p);
  while (n && isspace((unsigned char)p[n - 1])) n--;
  int cut = n >= cap;
  if (cut) n = cap > 4 ? cap - 4 : 0;
  memcpy(out, p, n);
  out[n] = 0;
  if (cut) memcpy(out + n, "...", 4);
}

void ak__agent_reply(const char *input, time_t now, char *out, size_t cap) {
  char s[AK__MAX_TEXT + 8];
  normalize(input ? input : "", s, sizeof s);
  struct tm tm;
  localtime_r(&now, &tm);
  static const char *days[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                               "Thursday", "Friday", "Saturday"};
  static const char *months[] = {"January",   "February", "March",    "April",
                                 "May",       "June",     "July",     "August",
                                 "September", "October",  "November", "December"};

  if (!s[0]) {
    snprintf(out, cap, "I did not catch that. Could you say it again?");
  } else if (has(s, "time") && (asks(s) || starts(s, "time"))) {
    int h = tm.tm_hour % 12 ? tm.tm_hour % 12 : 12;
    snprintf(out, cap, "It is %d:%02d %s.", h, tm.tm_min, tm.tm_hour < 12 ? "AM" : "PM");
  } else if ((has(s, "date") || has(s, "day") || has(s, "today")) && (asks(s) || has(s, "which"))) {
    snprintf(out, cap, "Today is %s, %s %d, %d.", days[tm.tm_wday % 7], months[tm.tm_mon % 12],
             tm.tm_mday, tm.tm_year + 1900);
  } else if (has(s, "who are you") || has(s, "what are you") || has(s, "your name") ||
             has(s, "about yourself") || has(s, "introduce yourself")) {
    snprintf(out, cap,
             "I am the avatarkit demo agent, a small built-in rule based assistant. "
             "My voice comes from a local text to speech engine, and my face is animated live "
             "by the avatarkit motion server. Connect a real language model to make me "
             "smarter.");
  } else if (has(s, "what can you do") || has(s, "help") || has(s, "how do you work") ||
             has(s, "how does this work")) {
    snprintf(out, cap,
             "I can tell you the time and the date, do simple sums, tell a joke, repeat what "
             "you ask me to, and explain how this demo works. I am a small built-in agent: "
             "start a local model server such as Ollama or llama.cpp and restart the demo to "
             "talk about anything.");
  } else if (has(s, "how are you") || has(s, "how's it going") || has(s, "how are things")) {
    snprintf(out, cap, "I am doing well, thank you for asking! How are you?");
  } else if (has(s, "thank you") || has(s, "thanks")) {
    snprintf(out, cap, "You are welcome!");
  } else if (has(s, "bye") || has(s, "goodbye") || has(s, "see you")) {
    snprintf(out, cap, "Goodbye! It was nice talking to you.");
  } else if (starts(s, "hello") || starts(s, "hi") || starts(s, "hey") || has(s, "good morning") ||
             has(s, "good afternoon") || has(s, "good evening") || starts(s, "greetings")) {
    const char *part = tm.tm_hour < 12 ? "morning" : tm.tm_hour < 18 ? "afternoon" : "evening";
    snprintf(out, cap,
             "Hello there! Good %s. I am the avatarkit demo agent. Ask me what time it is, "
             "for a joke, or what I can do.",
             part);
  } else if (starts(s, "repeat") || starts(s, "echo") || starts(s, "say")) {
    char rest[400];
    after_command(input, rest, sizeof rest);
    if (ak__has_words(rest, strlen(rest)))
      snprintf(out, cap, "%s", rest);
    else
      snprintf(out, cap, "Tell me what to repeat, for example: repeat the quick brown fox.");
  } else if (arithmetic(s, out, cap)) {
    /* written */
  } else if (has(s, "joke") || has(s, "funny")) {
    static const char *jokes[] = {
        "Why did the avatar cross the screen? To get to the other frame.",
        "I told my motion server a joke about latency. It laughed forty milliseconds later.",
        "I would tell you a joke about audio codecs, but it might lose something in "
        "compression."};
    snprintf(out, cap, "%s", jokes[(unsigned)now % 3]);
  } else if (has(s, "weather") || has(s, "rain") || has(s, "temperature") || has(s, "news")) {
    snprintf(out, cap,
             "I cannot look outside or on the internet: I am the built-in demo agent and run "
             "entirely on this machine. A language model with tools could answer that.");
  } else if (has(s, "avatarkit") || has(s, "motion server") || has(s, "how do you move") ||
             has(s, "how do you speak") || has(s, "lips")) {
    snprintf(out, cap,
             "Avatarkit turns speech into facial animation in real time. The backend writes my "
             "reply, a text to speech voice speaks it, and the motion server turns that audio "
             "into lip and face motion that your browser plays in sync.");
  } else if (has(s, "model") || has(s, "llm") || has(s, "chatgpt") || has(s, "gpt") ||
             has(s, "ollama") || has(s, "smarter") || has(s, "language model")) {
    snprintf(out, cap,
             "To give me a real language model, start a local server such as Ollama, llama.cpp "
             "server, vLLM or LM Studio, and restart the demo: it finds the model by itself. "
             "Or point AVATARKIT_LLM_URL at any OpenAI compatible server.");
  } else if (has(s, "nice to meet you") || has(s, "pleased to meet you")) {
    snprintf(out, cap, "Nice to meet you too!");
  } else if (has(s, "how old") || has(s, "your age")) {
    snprintf(out, cap, "I was built this year, so I am very young for an avatar.");
  } else if (has(s, "where are you") || has(s, "where do you live")) {
    snprintf(out, cap, "I live on this computer: everything you see and hear runs locally.");
  } else if (has(s, "can you hear me") || has(s, "are you there") || has(s, "are you listening")) {
    snprintf(out, cap, "Yes, I hear you loud and clear.");
  } else if (starts(s, "yes") || starts(s, "no") || starts(s, "ok") || starts(s, "okay") ||
             starts(s, "cool") || starts(s, "great") || starts(s, "nice")) {
    snprintf(out, cap, "Alright. Ask me the time, the date, a sum, or for a joke.");
  } else {
    /* Not one of its topics: say so, what it can do, and how to plug a model in. */
    snprintf(out, cap,
             "I cannot answer that: I am the built-in demo agent, not a language model. "
             "I can tell you the time and the date, do simple sums like twelve times seven, "
             "tell a joke, repeat what you say, and explain how this demo works. "
             "To talk about anything, start a local model server such as Ollama or llama.cpp "
             "and restart the demo, which finds it by itself.");
  }
}
