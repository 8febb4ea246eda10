#!/bin/sh
# Writes fuzz/corpus/fuzz_ogg/tone.opus: 0.3 s of a tone as Ogg Opus (first byte = slice size).
set -e
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
cat > "$tmp/seed.c" <<'C'
#include <math.h>
#include <stdio.h>
#include <opus/opusenc.h>
static int wr(void *u, const unsigned char *p, opus_int32 n) { return fwrite(p, 1, n, u) != (size_t)n; }
static int cl(void *u) { return 0; }
int main(int argc, char **argv) {
  FILE *f = fopen(argv[1], "wb");
  fputc(37, f);
  OpusEncCallbacks cb = {wr, cl};
  OggOpusComments *c = ope_comments_create();
  int err;
  OggOpusEnc *e = ope_encoder_create_callbacks(&cb, f, c, 16000, 1, 0, &err);
  float x[4800];
  for (int i = 0; i < 4800; i++) x[i] = 0.4f * sinf(i * 0.1f);
  ope_encoder_write_float(e, x, 4800);
  ope_encoder_drain(e);
  ope_encoder_destroy(e);
  ope_comments_destroy(c);
  fclose(f);
  return 0;
}
C
cc "$tmp/seed.c" -o "$tmp/seed" $(pkg-config --cflags --libs libopusenc) -lm
mkdir -p "$here/corpus/fuzz_ogg"
"$tmp/seed" "$here/corpus/fuzz_ogg/tone.opus"
rm -rf "$tmp"
