// Live demo in sdk mode: token from the console API (dev convenience; production apps get
// it from their backend), connect, stream microphone or test PCM, interrupt.
// window.__live is the test hook.
import { AvatarManager, AvatarSDK, AvatarView } from './avatarkit.standalone.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const RATE = 16000;
const hook = (window.__live = { states: [], conn: [], errors: [], log: [], view: null });
let view = null;

function log(msg) {
  hook.log.push(msg);
  $('log').textContent += `${(performance.now() / 1000).toFixed(2)}s ${msg}\n`;
  $('log').scrollTop = $('log').scrollHeight;
}
$('server').value = params.get('server') ?? location.origin;
for (const k of ['app', 'avatar', 'token']) if (params.get(k)) $(k).value = params.get(k);

async function getToken(server, key) {
  const r = await fetch(new URL('/v1/console/session-tokens', server), {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ expireAt: Math.floor(Date.now() / 1000) + 3600 }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body?.errors?.[0]?.detail ?? `HTTP ${r.status}`);
  return body.sessionToken;
}

async function connect() {
  const server = $('server').value;
  if (!AvatarSDK.isInitialized() || AvatarSDK.configuration.serverUrl !== server) {
    await AvatarSDK.initialize($('app').value, { drivingServiceMode: 'sdk', audioFormat: { channelCount: 1, sampleRate: RATE }, serverUrl: server, logLevel: params.get('log') ?? 'warning' });
  }
  AvatarSDK.setSessionToken($('token').value);
  if (!view || view.avatar.id !== $('avatar').value) {
    view?.dispose();
    // By id from the Motion Server's avatar registry (/avatars/<id>/avatar.json): the ids it accepts.
    const avatar = await AvatarManager.shared.load({ avatarId: $('avatar').value, registryUrl: server });
    view = hook.view = new AvatarView(avatar, $('stage'), { sdk: AvatarSDK, recordRenders: true });
    const c = view.controller;
    c.addEventListener('connectionstate', ({ state: s }) => { hook.conn.push(s); $('s-conn').textContent = s; $('badge').textContent = s; log(`connection ${s}`); syncButtons(); });
    c.addEventListener('conversationstate', ({ state: s, reason }) => { hook.states.push({ state: s, reason }); $('s-state').textContent = `${s} (${reason})`; log(`state ${s} (${reason})`); });
    c.addEventListener('error', ({ code, message }) => { hook.errors.push({ code, message }); log(`error ${code}: ${message}`); });
    await view.ready;
  }
  await view.controller.initializeAudioContext();
  await view.controller.start();
}

function syncButtons() {
  const on = view?.controller.connectionState === 'connected';
  for (const b of ['sample', 'mic', 'interrupt', 'disconnect']) $(b).disabled = !on;
  $('connect').disabled = on;
}

/** Streams PCM s16le in 40 ms chunks at real-time pace (faster with speed > 1). */
async function sendPcm(bytes, speed = 1) {
  const c = view.controller;
  const chunk = RATE * 2 * 0.04;
  let id = null;
  for (let o = 0; o < bytes.length; o += chunk) {
    const last = o + chunk >= bytes.length;
    id = c.send(bytes.subarray(o, Math.min(bytes.length, o + chunk)), last) ?? id;
    if (!last) await new Promise((r) => setTimeout(r, 40 / speed));
  }
  return id;
}

/** A few seconds of speech-like sound (vowel formants on a pulse train) made in the page. */
function testSpeech(seconds = 2.5) {
  const n = Math.round(seconds * RATE), out = new Int16Array(n);
  const formants = [[800, 1200], [500, 1800], [300, 2200], [500, 900]];
  let t = 0.15, k = 0;
  while (t < seconds - 0.3) {
    const dur = 0.14 + 0.08 * ((k * 7) % 3) / 2, [f1, f2] = formants[k % 4];
    const a = Math.round(t * RATE), len = Math.round(dur * RATE);
    let y1 = 0, y2 = 0, z1 = 0, z2 = 0;
    for (let i = 0; i < len && a + i < n; i++) {
      const src = i % Math.round(RATE / 130) === 0 ? 1 : 0;
      const r = 0.97;
      const v1 = src + 2 * r * Math.cos(2 * Math.PI * f1 / RATE) * y1 - r * r * y2; y2 = y1; y1 = v1;
      const v2 = src + 2 * r * Math.cos(2 * Math.PI * f2 / RATE) * z1 - r * r * z2; z2 = z1; z1 = v2;
      const env = Math.min(1, i / 300, (len - i) / 400);
      out[a + i] = Math.max(-32767, Math.min(32767, Math.round((v1 * 0.5 + v2 * 0.3) * 900 * env)));
    }
    t += dur + (k % 3 === 2 ? 0.25 : 0.06);
    k++;
  }
  return new Uint8Array(out.buffer);
}

let mic = null;
async function micStart() {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true } });
  const ctx = new AudioContext();
  const src = ctx.createMediaStreamSource(stream);
  const proc = ctx.createScriptProcessor(2048, 1, 1);
  const ratio = ctx.sampleRate / RATE;
  proc.onaudioprocess = (e) => {
    const x = e.inputBuffer.getChannelData(0), n = Math.floor(x.length / ratio), pcm = new Int16Array(n);
    for (let i = 0; i < n; i++) pcm[i] = Math.max(-32767, Math.min(32767, Math.round(x[Math.floor(i * ratio)] * 32767)));
    view.controller.send(new Uint8Array(pcm.buffer), false);
  };
  src.connect(proc);
  proc.connect(ctx.destination);
  mic = { stream, ctx };
}
function micStop() {
  if (!mic) return;
  mic.stream.getTracks().forEach((t) => t.stop());
  void mic.ctx.close();
  mic = null;
  view.controller.send(new Uint8Array(0), true);
}

function stats() {
  if (view) {
    const s = view.controller.getStats();
    $('s-jitter').textContent = `${Math.round(s.jitterDelay * 1000)} ms`;
    const cpu = view.cpuStats;
    if (cpu.frames) $('s-cpu').textContent = `${cpu.meanMs.toFixed(2)} ms mean`;
  }
  setTimeout(stats, 300);
}
stats();

$('gettoken').onclick = async () => {
  try { $('token').value = await getToken($('server').value, $('key').value); log('token ok'); } catch (e) { log(`token failed: ${e.message}`); }
};
$('connect').onclick = () => connect().catch((e) => log(`connect failed: ${e.message}`));
$('disconnect').onclick = () => { view?.controller.close(); syncButtons(); };
$('sample').onclick = () => sendPcm(testSpeech());
$('interrupt').onclick = () => view?.controller.interrupt();
$('mic').onpointerdown = () => micStart().catch((e) => log(`microphone: ${e.message}`));
$('mic').onpointerup = micStop;
$('mic').onpointerleave = micStop;
$('pcmfile').onchange = async (e) => {
  const f = e.target.files[0];
  if (!f) return;
  let b = new Uint8Array(await f.arrayBuffer());
  if (String.fromCharCode(...b.subarray(0, 4)) === 'RIFF') b = b.subarray(44);
  sendPcm(b);
};
Object.assign(hook, { connect, sendPcm, testSpeech, getToken, ready: true });
