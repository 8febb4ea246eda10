/* The DSP front end and the signal-driven mouth: per-hop level, low-band ratio and spectral
 * centroid, mapped to jaw opening, lip rounding, spreading and closure. Used as the built-in
 * mouth and as the voice/level source for the facial life. */
#include <math.h>

#include "engine_dsp.h"

#define LP_WARMUP 80 /* samples run through the low-pass before energies are summed */

void ak__feat_compute(const float *win, ak__feat *out) {
  /* Two cascaded one-pole low-passes at ~900 Hz: a = exp(-2*pi*900/16000). */
  const float a = 0.7025f;
  float lp1 = 0.0f, lp2 = 0.0f, prev = win[LP_WARMUP - 1];
  double e = 0.0, ed = 0.0, el = 0.0;
  for (int i = 0; i < AK__WIN; i++) {
    float x = win[i];
    lp1 = a * lp1 + (1.0f - a) * x;
    lp2 = a * lp2 + (1.0f - a) * lp1;
    if (i >= LP_WARMUP) {
      float d = x - prev;
      e += (double)x * x;
      ed += (double)d * d;
      el += (double)lp2 * lp2;
    }
    prev = x;
  }
  const double n = (double)(AK__WIN - LP_WARMUP);
  out->db = (float)(10.0 * log10(e / n + 1e-10));
  if (e > 1e-9) {
    double r = ed / e; /* = 2(1 - cos w) for a pure tone at w rad/sample */
    if (r > 4.0) r = 4.0;
    out->centroid = (float)(acos(1.0 - r / 2.0) * 16000.0 / (2.0 * 3.14159265358979));
    double low = el / e;
    out->low = (float)(low > 1.0 ? 1.0 : low);
  } else {
    out->centroid = 0.0f;
    out->low = 0.0f;
  }
  ak__pitch_compute(win, &out->f0, &out->clarity);
}

#define PITCH_DEC 4                   /* 16 kHz -> 4 kHz */
#define PITCH_N (AK__WIN / PITCH_DEC) /* 100 samples */
#define PITCH_LMIN 10                 /* 400 Hz */
#define PITCH_LMAX 57                 /* ~70 Hz */
#define PITCH_REL 0.8f /* a shorter period wins when its peak is this close to the best */

void ak__pitch_compute(const float *win, float *f0, float *clarity) {
  float y[PITCH_N], e[PITCH_N + 1];
  /* 4-tap box low-pass and decimation, DC removed. */
  float mean = 0.0f;
  for (int i = 0; i < PITCH_N; i++) {
    const float *w = win + i * PITCH_DEC;
    y[i] = 0.25f * (w[0] + w[1] + w[2] + w[3]);
    mean += y[i];
  }
  mean /= (float)PITCH_N;
  e[0] = 0.0f;
  for (int i = 0; i < PITCH_N; i++) {
    y[i] -= mean;
    e[i + 1] = e[i] + y[i] * y[i]; /* prefix energies */
  }
  *f0 = 0.0f;
  *clarity = 0.0f;
  if (!(e[PITCH_N] > 1e-7f * (float)PITCH_N)) return; /* below ~ -70 dBFS: no pitch */
  float r[PITCH_LMAX + 2] = {0}, best = 0.0f;
  for (int l = PITCH_LMIN - 1; l <= PITCH_LMAX + 1; l++) {
    float x0 = 0.0f, x1 = 0.0f, x2 = 0.0f, x3 = 0.0f; /* independent sums (latency) */
    int i = 0, m = PITCH_N - l;
    for (; i + 4 <= m; i += 4) {
      x0 += y[i] * y[i + l];
      x1 += y[i + 1] * y[i + 1 + l];
      x2 += y[i + 2] * y[i + 2 + l];
      x3 += y[i + 3] * y[i + 3 + l];
    }
    for (; i < m; i++) x0 += y[i] * y[i + l];
    float xy = (x0 + x1) + (x2 + x3);
    float ea = e[PITCH_N - l], eb = e[PITCH_N] - e[l];
    r[l] = ea > 0.0f && eb > 0.0f ? xy / sqrtf(ea * eb) : 0.0f;
    if (l >= PITCH_LMIN && l <= PITCH_LMAX && r[l] > best) best = r[l];
  }
  if (best < 0.5f) return;
  /* The shortest period that is a local peak within 20% of the best: a period's multiples
   * correlate almost as well, and picking them would drop the pitch by octaves. */
  for (int l = PITCH_LMIN; l <= PITCH_LMAX; l++) {
    if (r[l] < r[l - 1] || r[l] < r[l + 1]) continue;
    float den = r[l - 1] - 2.0f * r[l] + r[l + 1];
    float off = den < -1e-6f ? 0.5f * (r[l - 1] - r[l + 1]) / den : 0.0f;
    off = ak__clampf(off, -0.5f, 0.5f);
    float peak = r[l] - 0.25f * (r[l - 1] - r[l + 1]) * off; /* the parabola's top */
    if (peak < PITCH_REL * best) continue;
    *f0 = (float)(AK_ENGINE_SAMPLE_RATE / PITCH_DEC) / ((float)l + off);
    *clarity = ak__clampf(peak, 0.0f, 1.0f);
    return;
  }
}

void ak__dsp_init(ak__dsp *d) {
  d->peak_db = -25.0f;
  d->floor_db = -70.0f;
  d->voice_hold = 0.0f;
}

void ak__dsp_mouth(ak__dsp *d, const ak__feat *f, ak__mouth *m) {
  /* Running peak: fast attack, 3 dB/s release, never below -45 dBFS so that near-silence is
   * not stretched into full opening. */
  if (f->db > d->peak_db)
    d->peak_db += 0.5f * (f->db - d->peak_db);
  else
    d->peak_db -= 0.03f;
  if (d->peak_db < -45.0f) d->peak_db = -45.0f;
  /* Noise floor: follows dips at once, creeps up 1 dB/s through steady sound. */
  if (f->db < d->floor_db)
    d->floor_db = f->db < -90.0f ? -90.0f : f->db;
  else
    d->floor_db += 0.01f;
  float gate = d->peak_db - 40.0f;
  if (gate < d->floor_db + 6.0f) gate = d->floor_db + 6.0f;
  if (gate < -62.0f) gate = -62.0f;
  float span = d->peak_db - 8.0f - gate;
  if (span < 10.0f) span = 10.0f;
  float open = ak__clampf((f->db - gate) / span, 0.0f, 1.0f);

  if (f->db > gate + 8.0f)
    d->voice_hold = 8.0f; /* 80 ms hang-over bridges stop closures */
  else if (d->voice_hold > 0.0f)
    d->voice_hold -= 1.0f;
  float voice = d->voice_hold > 0.0f ? 1.0f : 0.0f;

  float fric = ak__smoothstep(2500.0f, 5000.0f, f->centroid);
  float front = ak__smoothstep(1100.0f, 2000.0f, f->centroid) * (1.0f - fric);
  float voiced_open = ak__smoothstep(0.3f, 0.6f, open);
  float round = voice * voiced_open * 0.5f *
                (ak__smoothstep(0.55f, 0.8f, f->low) + ak__smoothstep(750.0f, 450.0f, f->centroid));
  float closed = voice * (1.0f - ak__smoothstep(0.08f, 0.25f, open));

  float jaw = 0.8f * open * open * (1.0f - 0.7f * fric) * (1.0f - 0.4f * round);
  m->jaw = jaw;
  m->close = closed * 0.15f;
  m->press = closed * 0.35f;
  m->roll = m->roll_up = closed * 0.15f;
  m->smile = m->shrug = m->tongue = 0.0f;
  m->funnel = 0.7f * round * open;
  m->pucker = 0.6f * round * (1.0f - 0.5f * open);
  m->lower = voice * open * 0.3f * (1.0f - round);
  m->upper = voice * (open * 0.12f * (1.0f - round) + 0.12f * fric);
  m->stretch = voice * (0.3f * fric + 0.25f * front * open);
  m->voice = voice;
  m->level = open;
  /* Pitch only where the hop is loud enough to be speech, not hum in the noise floor. */
  m->pv = f->f0 > 0.0f && f->db > gate + 8.0f ? f->clarity : 0.0f;
  m->pst = m->pv > 0.0f ? m->pv * 12.0f * log2f(f->f0 / 100.0f) : 0.0f;
}
