// The web SDK and the C libraries agree: protocol limits, the close-code table and the error
// code names are read from the C headers (include/avatarkit/*.h) and compared with the web
// definitions, so neither side can change alone.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errors, proto } from './helpers.mjs';
import { load } from '../../tools/transpile.mjs';

const limits = await load('limits');
const include = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'include', 'avatarkit');
const header = (name) => readFileSync(join(include, name), 'utf8');

/** Value of `#define NAME expr` where expr is integer arithmetic (digits, + - * <<, parens). */
function define(src, name) {
  const m = src.match(new RegExp(`^#define\\s+${name}\\s+(.+?)\\s*(?:/\\*.*)?$`, 'm'));
  assert.ok(m, `${name} is defined`);
  const expr = m[1].replace(/u\b/gi, '');
  assert.match(expr, /^[\d\s()+\-*<]+$/, `${name} is plain integer arithmetic (${expr})`);
  return Function(`return (${expr});`)();
}

/** Rows X(NAME, code, "...") of an X-macro table `#define MAP(X) ...`. */
function xmacro(src, map) {
  const start = src.indexOf(`#define ${map}(X)`);
  assert.ok(start >= 0, `${map} is defined`);
  const rows = [];
  const lines = src.slice(start).split('\n');
  for (const line of lines) {
    const m = line.match(/X\((\w+),\s*(-?\d+),/);
    if (m) rows.push([m[1], Number(m[2])]);
    if (!line.trimEnd().endsWith('\\')) break;
  }
  assert.ok(rows.length > 0, `${map} has rows`);
  return rows;
}

test('protocol limits equal the C ones (protocol.h)', () => {
  const h = header('protocol.h');
  assert.equal(limits.MAX_MESSAGE_BYTES, define(h, 'AK_MAX_MESSAGE_BYTES'));
  assert.equal(limits.MAX_INGRESS_MESSAGE_BYTES, define(h, 'AK_MAX_INGRESS_MESSAGE_BYTES'));
  // Two limits, one per direction: a client may send a whole request (60 s of 48 kHz s16le
  // PCM, 5.76 MB) in one message, while server messages stay within the receive limit.
  assert.ok(limits.MAX_INGRESS_MESSAGE_BYTES >= 60 * 48000 * 2 + 1024, 'a minute of 48 kHz PCM fits');
  assert.ok(define(h, 'AK_MAX_PARSE_BYTES') >= limits.MAX_INGRESS_MESSAGE_BYTES, 'the parser takes what the server accepts');
  assert.ok(limits.MAX_MESSAGE_BYTES <= limits.MAX_INGRESS_MESSAGE_BYTES);
  assert.equal(limits.MAX_PAYLOAD_FRAMES, define(h, 'AK_MAX_PAYLOAD_FRAMES'));
  assert.equal(limits.MAX_PAYLOAD_PACKETS, define(h, 'AK_MAX_PAYLOAD_PACKETS'));
});

test('the decoder enforces those limits, exactly at the bound', () => {
  const F = limits.MAX_PAYLOAD_FRAMES;
  const motion = (n) => proto.encodeAvatarMotion({ fps: 25, frameCount: n, channelMaskLo: 1, weights: new Uint8Array(n), head: new Uint8Array(n * 6) });
  assert.equal(proto.decodeAvatarMotion(motion(F)).frameCount, F);
  assert.throws(() => proto.decodeAvatarMotion(motion(F + 1)), /too many frames/);
  const P = limits.MAX_PAYLOAD_PACKETS;
  const audio = (n) => proto.encodeAvatarAudio({ sampleRate: 16000, frameSamples: 320, packets: Array.from({ length: n }, () => new Uint8Array([1])) });
  assert.equal(proto.decodeAvatarAudio(audio(P)).packets.length, P);
  assert.throws(() => proto.decodeAvatarAudio(audio(P + 1)), /too many packets/);
  assert.throws(() => proto.decodeMessage(new Uint8Array(limits.MAX_MESSAGE_BYTES + 1)), /too large/);
});

test('close codes: the web table is AK_CLOSE_MAP, and each code maps to a web error', () => {
  const rows = xmacro(header('protocol.h'), 'AK_CLOSE_MAP');
  assert.deepEqual(Object.entries(errors.CloseCode), rows, 'same names, same codes, same order');
  const mapped = Object.keys(errors.CLOSE_ERRORS).map(Number).sort((a, b) => a - b);
  assert.deepEqual(mapped, rows.map(([, c]) => c).sort((a, b) => a - b), 'every server close code has a meaning, no other code has one');
  const values = new Set(Object.values(errors.ErrorCode));
  for (const [name, code] of rows) {
    const e = errors.CLOSE_ERRORS[code];
    if (name === 'NORMAL') assert.equal(e, null, 'a normal close is not an error');
    else assert.ok(values.has(e), `${name} (${code}) maps to a web error code (${e})`);
    assert.equal(errors.classifyClose(code, true), e);
  }
  // codes the server never sends: a lost connection, by confirmation state
  for (const code of [1005, 1006, 4001, 4003]) {
    assert.equal(errors.classifyClose(code, false), errors.ErrorCode.CONNECTION_FAILED);
    assert.equal(errors.classifyClose(code, true), errors.ErrorCode.CONNECTION_CLOSED);
  }
});

test('web error codes reuse the C names: AK_* from error.h, AKS_* from sdk.h', () => {
  const core = new Set(xmacro(header('error.h'), 'AK_ERRNO_MAP').map(([n]) => `AK_${n}`));
  const sdk = new Set(xmacro(header('sdk.h'), 'AKS_ERROR_MAP').map(([n]) => `AKS_${n}`));
  const browserOnly = ['AK_EAVATAR', 'AK_ERENDER', 'AK_EAUDIO', 'AK_EINIT'];
  for (const [key, value] of Object.entries(errors.ErrorCode)) {
    if (browserOnly.includes(value)) {
      assert.ok(!core.has(value), `${value} is browser-only and must not collide with a C code`);
      continue;
    }
    assert.ok(core.has(value) || sdk.has(value), `ErrorCode.${key} = ${value} is a C code name`);
  }
  assert.equal(new Set(Object.values(errors.ErrorCode)).size, Object.keys(errors.ErrorCode).length, 'values are unique');
});
