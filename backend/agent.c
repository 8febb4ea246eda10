/* The built-in local agent: a small rule and template based conversationalist used when no
 * LLM is configured. It answers greetings, questions about itself and the time, and echoes
 * anything else, so the demo works with no account or key. */
#include <ctype.h>
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
             "My voice comes from espeak, and my face is animated live by the avatarkit "
             "motion server. Connect a real language model in the configuration to make me "
             "smarter.");
  } else if (has(s, "what can you do") || has(s, "help") || has(s, "how do you work") ||
             has(s, "how does this work")) {
    snprintf(out, cap,
             "I can greet you, tell you the time or the date, and talk about myself. "
             "Anything else, I repeat back to you, so you can watch my lips move. "
             "The backend turns my reply into speech, and the motion server turns the speech "
             "into facial animation.");
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
             "or who I am.",
             part);
  } else {
    /* Echo, trimmed to a speakable length. */
    char echo[400];
    size_t n = strlen(input);
    while (n && isspace((unsigned char)input[n - 1])) n--;
    const char *p = input;
    while (*p && isspace((unsigned char)*p)) {
      p++;
      n--;
    }
    int cut = n >= sizeof echo;
    if (cut) n = sizeof echo - 4;
    memcpy(echo, p, n);
    echo[n] = 0;
    if (cut) memcpy(echo + n, "...", 4);
    snprintf(out, cap, "You said: %s", echo);
  }
}
