// Captures a real Motion Server session into the recording format the web SDK's player demo
// and browser tests replay:
//   {"format":"avatarkit-recording","version":1,"appId","avatarId","inputSampleRate","fps",
//    "requests":[{"reqId","text","messages":["<base64 serialized Message>", ...]}]}
// Speech comes from espeak-ng. Usage (Node >= 20.10):
//   node --experimental-websocket tools/record-session.mjs OUT.json [--server build/bin/avatarkit-motion-server]
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const out = args[0];
if (!out) { console.error('usage: record-session.mjs OUT.json [--server BIN]'); process.exit(2); }
const si = args.indexOf('--server');
process.env.AK_SERVER_BIN = si > 0 ? args[si + 1] : join(here, '../build/bin/avatarkit-motion-server');
const w = await import('../tests/server/wire.mjs');
const h = await import('../tests/server/harness.mjs');

const SENTENCES = [
  'Hello! I am your avatar. My lips move with the words I say.',
  'Peter Piper picked a peck of pickled peppers. Who would moo at a blue balloon?',
];

function wavPcm(path) {
  const b = readFileSync(path);
  let off = 12, rate = 0;
  while (off + 8 <= b.length) {
    const id = b.toString('ascii', off, off + 4), size = b.readUInt32LE(off + 4);
    if (id === 'fmt ') rate = b.readUInt32LE(off + 12);
    if (id === 'data') return { rate, pcm: new Uint8Array(b.subarray(off + 8, off + 8 + Math.min(size, b.length - off - 8))) };
    off += 8 + size + (size & 1);
  }
  throw new Error('no data chunk in ' + path);
}

const dir = mkdtempSync(join(tmpdir(), 'akrec-'));
const srv = await h.startServer(['--log-level', 'warn']);
const rec = { format: 'avatarkit-recording', version: 1, appId: 'test-app', avatarId: 'default', inputSampleRate: 0, fps: 25, requests: [] };
try {
  const c = await h.handshake(srv, 22050, 0, { avatar: 'default' });
  for (const [i, text] of SENTENCES.entries()) {
    const wav = join(dir, `s${i}.wav`);
    execFileSync('espeak-ng', ['-v', 'en-us', '-s', '155', '-w', wav, text]);
    const { rate, pcm } = wavPcm(wav);
    if (rate !== 22050) throw new Error('unexpected espeak rate ' + rate);
    rec.inputSampleRate = rate;
    // 0.4 s of silence before and after so players show rest -> speech -> rest.
    const pad = new Uint8Array(Math.round(rate * 0.4) * 2);
    const all = new Uint8Array(pad.length * 2 + pcm.length);
    all.set(pad, 0); all.set(pcm, pad.length);
    const reqId = `req${i + 1}`;
    const before = c.inbox.length;
    h.sendAudio(c, reqId, all, Math.round(rate * 0.04) * 2, true);
    await c.until((ib) => h.animationOf(ib, reqId).end, 20000);
    const msgs = [];
    // Keep the raw bytes: re-encode each decoded message exactly from the socket capture.
    for (const m of c.raw.slice(before)) msgs.push(Buffer.from(m).toString('base64'));
    rec.requests.push({ reqId, text, audioSeconds: all.length / 2 / rate, messages: msgs });
  }
  c.ws.close();
} finally {
  await srv.stop();
}
writeFileSync(out, JSON.stringify(rec));
console.log(`wrote ${out}: ${rec.requests.length} requests, ${rec.requests.reduce((n, r) => n + r.messages.length, 0)} messages`);
