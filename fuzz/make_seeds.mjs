// Writes the seed corpora of the fuzz targets (run: node fuzz/make_seeds.mjs). Ogg seeds come
// from make_ogg_seed.sh (needs libopusenc).
import { writeFileSync, mkdirSync } from 'node:fs';
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
const framed = (...msgs) => Uint8Array.from(msgs.flatMap((m) => [m.length & 255, m.length >> 8, ...m]));
seeds.fuzz_session = {
  pcm16k: framed(w.configure(16000), w.audio('a', pcm, false), w.audio('a', pcm, true)),
  pcm44k_interrupt: framed(w.configure(44100), w.audio('a', pcm, false), w.interrupt('a'), w.audio('b', pcm, true)),
  ogg_garbage: framed(w.configure(48000, 1), w.audio('o', pcm, true)),
  bad_rate: framed(w.configure(11025)),
};
for (const [t, files] of Object.entries(seeds)) {
  mkdirSync(dir + t, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) writeFileSync(`${dir}${t}/${name}`, bytes);
}
