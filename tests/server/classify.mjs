// Test-side tools for issue 10's wire compatibility: a classifier written from the official
// Server SDKs' rules (../shared/PROTOCOL.md section 6, applied in that order) and a strict
// HTTP/1.1 response reader for refusals, on a raw TCP socket.
import net from 'node:net';

const PHRASES = [
  [['credits exhausted'], 'creditsExhausted'],
  [['session time limit reached', 'maximum session duration'], 'sessionDurationExceeded'],
  [['session denied'], 'billingRequired'],
  [['invalid session token', 'empty token'], 'sessionTokenInvalid'],
  [['token is expired', 'session token expired'], 'sessionTokenExpired'],
  [['app id mismatch'], 'appIDMismatch'],
  [['appidunrecognized', 'app id unrecognized'], 'appIDUnrecognized'],
  [['avatar not found'], 'avatarNotFound'],
  [['unsupported sample rate'], 'unsupportedSampleRate'],
  [['livekit silence timeout', 'no audio input for'], 'idleTimeout'],
  [['livekit_egress', 'agora_egress', 'missing livekit credentials', 'unauthorized'], 'invalidEgressConfig'],
  [['egress client is not configured on server', 'failed to create egress connection'], 'egressUnavailable'],
  [['driven server returned non-200 status code', 'driven server request failed'], 'upstreamError'],
  [['expected clientconfiguresession message', 'unexpected message type', 'failed to unmarshal initial message'], 'protocolError'],
];

/* serverCode: ServerError.code as a string, or a JSON error's code; text: code + title +
 * detail/message; httpStatus: 0 for a ServerError; phase: 'websocket_connect' for a refused
 * upgrade. Returns the AvatarSDKErrorCode name, or null when no rule applies. */
export function classify({ serverCode = '', text = '', httpStatus = 0, phase = '' }) {
  const sc = String(serverCode);
  const t = `${sc} ${text}`.toLowerCase();
  if (sc === '3' || sc === 'INVALID_ARGUMENT') return /livekit|agora|egress/.test(t) ? 'invalidEgressConfig' : 'invalidRequest';
  if (sc === '16' || sc === 'UNAUTHENTICATED') return 'invalidEgressConfig';
  if (sc === '14' || sc === 'UNAVAILABLE') return 'egressUnavailable';
  if (sc === '4001') return 'creditsExhausted';
  if (sc === '4002') return 'sessionDurationExceeded';
  for (const [phrases, code] of PHRASES) if (phrases.some((p) => t.includes(p))) return code;
  if (httpStatus === 402) return 'billingRequired';
  if (httpStatus === 401) return 'sessionTokenExpired';
  if (httpStatus === 404) return t.includes('avatar not found') ? 'avatarNotFound' : 'appIDUnrecognized';
  if (httpStatus === 400 && t.includes('app id mismatch')) return 'appIDMismatch';
  if (httpStatus === 400 && phase === 'websocket_connect') return 'sessionTokenInvalid';
  if (httpStatus >= 400 && httpStatus < 500) return 'invalidRequest';
  if (httpStatus >= 500) return 'serverError';
  return null;
}

/* The SDK's view of an HTTP refusal: the {"message"} shape or the {"errors":[...]} shape. */
export function classifyHttp(res, phase) {
  const b = res.json;
  if (b && Array.isArray(b.errors)) {
    const e = b.errors[0];
    return classify({ serverCode: e.code, text: `${e.title} ${e.detail}`, httpStatus: res.status, phase });
  }
  return classify({ text: b?.message ?? '', httpStatus: res.status, phase });
}

/* Sends a raw request and reads the response strictly: exactly `HTTP/1.1 NNN Reason`, CRLF
 * header lines of `name: value`, one Content-Length matching the body (read to the end of
 * the connection, so nothing may follow it), a JSON body for application/json. Throws on any
 * deviation. A 101 answer resolves at once (status only). */
export function strictRequest(port, request, ms = 5000) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (f) => { if (!done) { done = true; clearTimeout(timer); s.destroy(); f(); } };
    const timer = setTimeout(() => finish(() => reject(new Error('no complete answer: ' + buf.toString()))), ms);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (/^HTTP\/1\.1 101 /.test(buf.toString('latin1')) && buf.includes('\r\n\r\n')) finish(() => resolve({ status: 101 }));
    });
    s.on('error', (e) => finish(() => reject(e)));
    s.on('end', () => finish(() => { try { resolve(parseStrict(buf)); } catch (e) { reject(e); } }));
    s.write(request);
  });
}

export function parseStrict(buf) {
  const i = buf.indexOf('\r\n\r\n');
  if (i < 0) throw new Error('no end of headers');
  const head = buf.subarray(0, i).toString('latin1');
  const body = buf.subarray(i + 4);
  const lines = head.split('\r\n');
  const m = /^HTTP\/1\.1 ([1-5]\d\d) ([A-Za-z][A-Za-z -]*[A-Za-z])$/.exec(lines[0]);
  if (!m) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
  const headers = {};
  for (const l of lines.slice(1)) {
    const h = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+): ?([^\r\n]*)$/.exec(l);
    if (!h || l.includes('\n')) throw new Error(`bad header line ${JSON.stringify(l)}`);
    const k = h[1].toLowerCase();
    if (k in headers) throw new Error(`repeated header ${k}`);
    headers[k] = h[2].trim();
  }
  if (!/^\d+$/.test(headers['content-length'] ?? '')) throw new Error('no Content-Length');
  if (Number(headers['content-length']) !== body.length)
    throw new Error(`Content-Length ${headers['content-length']} but body of ${body.length} bytes`);
  const text = body.toString('utf8');
  let json;
  if (/^application\/json\b/.test(headers['content-type'] ?? '')) json = JSON.parse(text);
  return { status: Number(m[1]), reason: m[2], headers, text, json };
}

export const upgradeRequest = (path, headers = {}) =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n` +
  Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n';

export const postRequest = (path, headers, body) =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n` +
  `Content-Length: ${Buffer.byteLength(body)}\r\n` +
  Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n' + body;
