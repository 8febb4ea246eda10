// Writes the seed corpora of the fuzz targets (run: node fuzz/make_seeds.mjs). Ogg seeds come
// from make_ogg_seed.sh (needs libopusenc).
import { writeFileSync, mkdirSync, existsSync, readFileSync } from 'node:fs';
import * as w from '../tests/server/wire.mjs';
const dir = new URL('./corpus/', import.meta.url).pathname;
const pcm = new Uint8Array(1280);
for (let i = 0; i < 640; i++) { const v = Math.round(9000 * Math.sin(i / 7)); pcm[2 * i] = v & 255; pcm[2 * i + 1] = (v >> 8) & 255; }
// AvatarMotion: magic, version 1, fps 25, first 0, count 2, mask = jawOpen, 2 weights, 12 head bytes
const mot = [0x0d, 0x41, 0x4b, 0x4d, 0x31, ...w.fVarint(2, 1), ...w.fVarint(3, 25), ...w.fVarint(5, 2),
  0x31, ...new Uint8Array(new BigUint64Array([1n << 17n]).buffer), ...w.fBytes(7, [10, 200]), ...w.fBytes(8, new Array(12).fill(1)), ...w.fVarint(10, 1)];
const aud = [0x0d, 0x41, 0x4b, 0x41, 0x31, ...w.fVarint(2, 1), ...w.fVarint(3, 16000), ...w.fVarint(4, 1), ...w.fVarint(5, 320),
  ...w.fVarint(6, 104), ...w.fBytes(8, [0xf8, 0xff, 0xfe]), ...w.fVarint(9, 320), ...w.fVarint(10, 1)];
const anim = Uint8Array.from([...w.fVarint(1, 5), ...w.fBytes(6, [...w.fString(2, 'r1'), ...w.fVarint(3, 1), ...w.fBytes(100, mot), ...w.fBytes(101, aud)])]);
const seeds = {
  fuzz_message: {
    configure: w.configure(16000), configure_ogg: w.configure(48000, 1), audio: w.audio('r1', pcm, true),
    interrupt: w.interrupt('r1'), animation: anim, motion: Uint8Array.from(mot), audio_payload: Uint8Array.from(aud),
  },
};
// fuzz_stream: [format/rate, chunk size - 1, flags] + input bytes (see fuzz/fuzz_stream.c)
const long = new Uint8Array(16000); // 0.5 s at 16 kHz: a vowel-like buzz, several messages
for (let i = 0; i < 8000; i++) { const v = Math.round(8000 * Math.sin(i / 9) * (1 + Math.sin(i / 40)) / 2); long[2 * i] = v & 255; long[2 * i + 1] = (v >> 8) & 255; }
const oggSeed = new URL('./corpus/fuzz_ogg/tone.opus', import.meta.url).pathname;
seeds.fuzz_stream = {
  pcm16k: Uint8Array.from([1, 127, 0, ...long]),
  pcm44k_odd_chunks: Uint8Array.from([5, 32, 0, ...pcm]),
  pcm8k_abort: Uint8Array.from([0, 99, 1, ...long]),
  pcm48k_emit_fails: Uint8Array.from([6, 200, 2 << 1, ...long]),
  ogg_garbage: Uint8Array.from([0x80, 50, 0, ...pcm]),
  ...(existsSync(oggSeed) ? { ogg_tone: Uint8Array.from([0x80, 36, 0, ...readFileSync(oggSeed).subarray(1)]) } : {}),
};
for (const [t, files] of Object.entries(seeds)) {
  mkdirSync(dir + t, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) writeFileSync(`${dir}${t}/${name}`, bytes);
}
