// Recorded-session player: acts as a backend would in host mode, relaying each recorded
// SERVER_RESPONSE_ANIMATION message to the SDK once (the whole message, audio and motion, via
// yieldFramesData) at the pace it was produced. window.__player is the test hook.
import { AvatarController, AvatarManager, AvatarSDK, AvatarSDKImpl, AvatarView, describeMessage } from './avatarkit.standalone.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const hook = (window.__player = { ready: false, states: [], errors: [], log: [], view: null, done: null, sdk: { AvatarController, AvatarManager, AvatarSDK, AvatarSDKImpl, AvatarView } });

function log(msg) {
  const line = `${(performance.now() / 1000).toFixed(2)}s ${msg}`;
  hook.log.push(line);
  const el = $('log');
  el.textContent += line + '\n';
  el.scrollTop = el.scrollHeight;
}
const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

let view = null;
let recording = null;
let playToken = 0;

async function loadRecording(src) {
  const rec = typeof src === 'string' ? await (await fetch(src)).json() : src;
  if (rec.format !== 'avatarkit-recording' || rec.version !== 1) throw new Error('not an avatarkit-recording v1 file');
  recording = rec;
  const n = rec.requests.reduce((a, r) => a + r.messages.length, 0);
  log(`recording: ${rec.requests.length} request(s), ${n} messages${rec.synthetic ? ' (synthetic)' : ''}`);
  return rec;
}

async function mountAvatar(avatar) {
  if (view) view.dispose();
  view = new AvatarView(avatar, $('stage'), { sdk: AvatarSDK, recordRenders: true, idle: params.get('idle') !== '0', decoder: params.get('decoder') === 'wasm' ? 'wasm' : 'auto' });
  hook.view = view;
  const c = view.controller;
  c.addEventListener('conversationstate', ({ state, reason, conversationId: id }) => {
    hook.states.push({ state, reason, id, t: performance.now() });
    $('s-state').textContent = `${state} (${reason})`;
    $('pause').textContent = state === 'paused' ? 'Resume' : 'Pause';
    log(`state ${state} (${reason})`);
  });
  c.addEventListener('error', ({ code, message }) => { hook.errors.push({ code, message }); log(`error ${code}: ${message}`); });
  view.addEventListener('firstrender', () => { log('first frame rendered'); hook.firstFrame = performance.now(); });
  await view.ready;
  $('s-ch').textContent = `${view.rig.channels.size}/52 ARKit targets`;
  $('badge').textContent = avatar.id;
}

/** Relays the recording like a backend: each message once, whole. The recording's request
 *  ids repeat from play to play, so the player names the conversation itself (yieldAudioData
 *  opens one, yieldFramesData feeds it whole Messages) rather than using yieldMessage. */
async function play() {
  const token = ++playToken;
  const c = view.controller;
  await c.initializeAudioContext();
  const pacing = params.get('pacing') ?? $('pacing').value;
  hook.playStart = performance.now();
  for (const req of recording.requests) {
    const msgs = req.messages.map(b64);
    // a conversation opens with the first audio; open it now in case motion leads
    const conv = c.yieldAudioData(new Uint8Array(0), false);
    const t0 = performance.now();
    let audioEnded = false;
    for (const bytes of msgs) {
      if (token !== playToken) return;
      const info = describeMessage(bytes);
      if (info.kind !== 'animation') continue;
      if (pacing !== 'burst') {
        // produced in real time: a message is ready when its media has been generated
        let due = t0 + info.mediaEnd * 1000;
        // network jitter on every message, the first included
        if (pacing === 'jitter') due += Math.random() * 180;
        const wait = due - performance.now();
        if (wait > 2) await new Promise((r) => setTimeout(r, wait));
        if (token !== playToken) return;
      }
      c.yieldFramesData([bytes], conv);
      if (info.end && !audioEnded) {
        audioEnded = true;
        c.yieldAudioData(new Uint8Array(0), true); // the request is complete: close its conversation
      }
    }
    if (token !== playToken) return;
    if (!audioEnded) c.yieldAudioData(new Uint8Array(0), true); // close the turn ourselves
    // wait for this turn to finish before relaying the next one, like a conversation
    await new Promise((resolve) => {
      const tick = () => (token !== playToken || c.getStats().queued === 0 ? resolve() : setTimeout(tick, 50));
      tick();
    });
  }
  hook.done = performance.now();
  log('recording finished');
}

function stats() {
  if (view) {
    const s = view.controller.getStats();
    $('s-id').textContent = s.conversationId ?? '–';
    $('s-media').textContent = s.state === 'idle' ? '–' : `${s.mediaTime.toFixed(2)} s`;
    $('s-jitter').textContent = `${Math.round(s.jitterDelay * 1000)} ms`;
    $('s-under').textContent = String(s.underruns);
    const cpu = view.cpuStats;
    if (cpu.frames) $('s-cpu').textContent = `${cpu.meanMs.toFixed(2)} ms mean, ${cpu.p95Ms.toFixed(2)} ms p95`;
  }
  setTimeout(stats, 250);
}

async function main() {
  await AvatarSDK.initialize('demo', { drivingServiceMode: 'host', audioFormat: { channelCount: 1, sampleRate: 16000 }, logLevel: params.get('log') ?? 'warning' });
  const avatarSrc = params.get('avatar') ?? 'default';
  const avatar = await AvatarManager.shared.load(avatarSrc, (p) => { if (p.type !== 'downloading') log(`avatar ${p.type}`); });
  await mountAvatar(avatar);
  const rec = params.get('recording') ?? 'recordings/sample.json';
  $('recording').value = rec;
  await loadRecording(rec);
  for (const b of ['play', 'pause', 'interrupt']) $(b).disabled = false;
  hook.ready = true;
  hook.play = play;
  hook.loadRecording = loadRecording;
  stats();
  if (params.get('autoplay') === '1') play();
}

$('play').onclick = () => play().catch((e) => log(`play failed: ${e.message}`));
$('pause').onclick = () => { const c = view.controller; c.conversationState === 'paused' ? c.resume() : c.pause(); };
$('interrupt').onclick = () => { playToken++; view.controller.interrupt(); };
$('volume').oninput = (e) => view?.controller.setVolume(Number(e.target.value));
$('recording').onchange = (e) => loadRecording(e.target.value).catch((err) => log(err.message));
$('recfile').onchange = async (e) => { const f = e.target.files[0]; if (f) await loadRecording(JSON.parse(await f.text())).catch((err) => log(err.message)); };
async function useGlb(file) {
  const a = AvatarManager.shared.loadFromData(file.name.replace(/\.glb$/i, ''), await file.arrayBuffer());
  await mountAvatar(a).catch((err) => log(`avatar failed: ${err.message}`));
}
$('glbfile').onchange = (e) => e.target.files[0] && useGlb(e.target.files[0]);
const drop = $('drop');
drop.ondragover = (e) => { e.preventDefault(); drop.classList.add('over'); };
drop.ondragleave = () => drop.classList.remove('over');
drop.ondrop = (e) => { e.preventDefault(); drop.classList.remove('over'); const f = e.dataTransfer.files[0]; if (f) useGlb(f); };

main().catch((e) => { log(`startup failed: ${e.message}`); hook.fatal = e.message; });
