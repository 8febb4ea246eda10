// A scripted stand-in for the Motion Server on loopback: console token API, driven-ingress
// WebSocket with query-parameter auth and the configure/confirm handshake; when a request's
// audio ends it streams a recording's messages for that req_id in real time, and it stops on
// ClientInterrupt. It records what the client sent for the tests to check. Refusals are shaped
// like the real Motion Server's (server/http.c, server/auth.c): well-formed HTTP/1.1 with a
// Content-Length, {"errors":[...]} at the console API, {"message":"..."} + newline at the
// ingress, the token judged before the app id.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { load } from '../../tools/transpile.mjs';
import { staticHandler } from '../../tools/serve.mjs';

export async function startFakeMotionServer({ roots, recording, apiKey = 'test-key', appId = 'demo', frameMs = 40 }) {
  const proto = await load('proto');
  const tokens = new Set();
  const seen = { configure: [], audio: [], interrupts: [], connections: 0, refused: 0 };
  const handle = staticHandler(roots);
  const http = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/v1/console/session-tokens') {
      if (req.headers['x-api-key'] !== apiKey) {
        const body = JSON.stringify({ errors: [{ status: 401, code: 'invalid_api_key', title: 'Invalid API key', detail: req.headers['x-api-key'] ? 'invalid api key' : 'missing X-Api-Key header' }] });
        res.writeHead(401, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
        return;
      }
      const t = `tok-${tokens.size + 1}`;
      tokens.add(t);
      const body = JSON.stringify({ sessionToken: t });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
      return;
    }
    if (!handle(req, res)) res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ noServer: true });
  http.on('upgrade', (req, socket, head) => {
    const u = new URL(req.url, 'http://x');
    const refusal =
      u.pathname !== '/v2/driveningress/websocket' ? [404, 'Not Found', 'Not found']
        : !tokens.has(u.searchParams.get('sessionKey') ?? '') ? [400, 'Bad Request', 'Invalid session token']
          : u.searchParams.get('appId') !== appId ? [404, 'Not Found', 'App id unrecognized']
            : null;
    if (refusal) {
      seen.refused++;
      const [status, reason, message] = refusal;
      const body = JSON.stringify({ message }) + '\n';
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => session(ws));
  });
  const template = recording.requests[0].messages.map((b) => proto.decodeMessage(Buffer.from(b, 'base64')).animation);
  function session(ws) {
    seen.connections++;
    let configured = false;
    const streams = new Map();
    ws.on('message', (data) => {
      const m = proto.decodeMessage(new Uint8Array(data));
      if (!configured) {
        if (m.type !== 1) {
          ws.send(proto.encodeServerError({ connectionId: 'c', reqId: '', code: 9, message: `expected ClientConfigureSession message, got type ${m.type}` }));
          ws.close();
          return;
        }
        configured = true;
        seen.configure.push(m.configureSession);
        ws.send(proto.encodeConfirmSession('fake_connection'));
        return;
      }
      if (m.audioInput) {
        seen.audio.push({ reqId: m.audioInput.reqId, bytes: m.audioInput.audio.length, end: m.audioInput.end });
        if (m.audioInput.end) stream(ws, m.audioInput.reqId, streams);
      } else if (m.interrupt) {
        seen.interrupts.push(m.interrupt.reqId);
        const s = streams.get(m.interrupt.reqId);
        if (s) clearInterval(s);
      }
    });
    ws.on('close', () => { for (const s of streams.values()) clearInterval(s); });
  }
  function stream(ws, reqId, streams) {
    let i = 0;
    const timer = setInterval(() => {
      if (i >= template.length || ws.readyState !== 1) { clearInterval(timer); return; }
      const a = template[i++];
      ws.send(proto.encodeAnimationMessage({
        connectionId: 'fake_connection', reqId, end: a.end,
        motion: a.motion ? proto.encodeAvatarMotion(a.motion) : undefined,
        audio: a.audio ? proto.encodeAvatarAudio(a.audio) : undefined,
      }));
    }, frameMs);
    streams.set(reqId, timer);
  }
  await new Promise((ok) => http.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${http.address().port}`,
    seen,
    close: () => new Promise((ok) => { for (const c of wss.clients) c.terminate(); http.close(ok); }),
  };
}
