// avatarkit demo page: connects to the backend's /ws/agent, renders the avatar with the web
// client SDK (served at /sdk/) in host mode, and hands it each relayed Motion Server Message
// (one binary WebSocket frame each; text frames are JSON control messages).
// Text box, push-to-talk microphone (16 kHz PCM to the backend), interrupt, live transcript,
// connection and conversation state, and per-turn latency readouts (first sound: when the first
// sample of the answer reaches the speaker, on the AudioContext's clock; first motion: the
// first rendered frame whose pose holds the answer's motion while its audio is heard; end of
// turn: when its last sample reaches the speaker; first payload: when its first Message
// arrived). A turn whose stream is cut (an error relayed by the backend, the
// socket dropping, or nothing arriving while the audio has run dry) ends within a bound with
// a visible error state instead of staying "playing" / "answering".
const $ = (id) => document.getElementById(id);

// Test and debugging hook: everything the page observed, in order.
const demo = (window.__avatarkitDemo = {
  sdk: 'loading', connection: 'connecting', ready: null, states: [], turns: [],
  latencies: [], errors: [], transcript: [], turnEnds: [],
  wire: { text: 0, textMessages: 0, binary: 0, binaryMessages: 0 }, // bytes from the backend
});

const MIC_RATE = 16000;
let ws = null;
let ready = null;
let sdk = null;            // the imported SDK module, or null
let controller = null;     // AvatarController of the view
let audioUnlocked = false;
let reconnectDelay = 500;
// A turn in progress: nothing from the backend for this long while its audio has run dry (or
// before it started) ends it with an error. ?stall_ms= overrides it (tests).
const STALL_MS = Math.max(1000, Number(new URLSearchParams(location.search).get('stall_ms')) || 10000);
let active = null;         // { since, lastTraffic, failed } while a turn is answering or playing
let convError = false;     // the conversation pill shows a cut turn until the next one
let sdkState = 'idle';     // the SDK's conversation state
let sdkAudioStart = false; // the SDK sends 'audiostart' (first sound); else hookSound() times it
let lastTraffic = performance.now(); // last frame of any kind from the backend
const sound = { awaiting: null, playing: null, scheduledUntil: 0, ctx: null }; // see hookSound()

// Per-turn bookkeeping by the request id the SDK reads from each Message: latency marks.
const turns = new Map();
let pendingStart = null;   // performance.now() of the submit / end of speech awaiting a turn
let agentBubble = null;

// ---- helpers -------------------------------------------------------------------------------
function bytesToB64(u8) {
  let s = '';
  for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
  return btoa(s);
}
const utf8 = new TextEncoder();
function send(obj) {
  if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(obj)); return true; }
  return false;
}
function setPill(id, state, text) { const el = $(id); el.dataset.state = state; el.textContent = text || state; }
function status(text) { $('status').textContent = text || ''; }
function addMsg(kind, text, voice) {
  const el = document.createElement('div');
  el.className = 'msg ' + kind;
  if (voice) {
    const via = document.createElement('span');
    via.className = 'via';
    via.textContent = 'voice';
    el.appendChild(via);
  }
  el.appendChild(document.createTextNode(text));
  $('transcript').appendChild(el);
  scrollChat(true);
  demo.transcript.push({ kind, text, voice: !!voice });
  return el;
}
// Keeps the newest message in view as it grows (unless the user scrolled up to read).
function scrollChat(force) {
  const t = $('transcript');
  if (force || t.scrollHeight - t.scrollTop - t.clientHeight < 80) t.scrollTop = t.scrollHeight;
}
function ms(v) { return v == null ? '–' : Math.round(v) + ' ms'; }
function median(a) { const s = [...a].sort((x, y) => x - y); return s.length ? s[Math.floor((s.length - 1) / 2)] : null; }

// ---- the SDK -------------------------------------------------------------------------------
async function loadSdk() {
  for (const url of ['/sdk/avatarkit.standalone.js', '/sdk/avatarkit.js']) {
    try {
      const m = await import(url);
      if (m && m.AvatarSDK && m.AvatarView) return m;
    } catch (e) { /* try the next build */ }
  }
  return null;
}

function convStateName(s) {
  if (typeof s === 'string') return s;
  if (s && typeof s === 'object' && 'state' in s) return String(s.state);
  return String(s);
}

async function setupAvatar(r) {
  if (!sdk) return;
  const box = $('avatar');
  try {
    const { AvatarSDK, AvatarManager, AvatarView } = sdk;
    if (!AvatarSDK.isInitialized || !AvatarSDK.isInitialized()) {
      await AvatarSDK.initialize(r.avatar.appId, {
        drivingServiceMode: 'host',
        audioFormat: { channelCount: 1, sampleRate: r.avatar.outputSampleRate },
      });
    }
    // By id from the avatar registry: the build's copy of avatars/ that this backend serves
    // with the SDK (/sdk/avatars/<id>/avatar.json), the same ids the Motion Server accepts.
    const avatar = await AvatarManager.shared.load({ avatarId: r.avatar.avatarId, registryUrl: '/sdk/' });
    if (controller) { try { controller.interrupt(); } catch (e) { /* old view */ } }
    box.querySelectorAll('canvas').forEach((c) => c.remove());
    // recordRenders: the controller logs each frame it renders with speech motion (the first
    // one of a turn is its first visible motion, hookMotion())
    const view = new AvatarView(avatar, box, { sdk: AvatarSDK, recordRenders: true });
    controller = view.controller;
    demo.view = view;
    hookMotion(controller);
    controller.addEventListener('conversationstate', (e) => {
      const name = convStateName(e.state);
      const was = sdkState;
      sdkState = /play|speak/i.test(name) ? 'playing' : name;
      demo.states.push({ state: name, t: performance.now(), reason: e.reason });
      if (was === 'playing' && name !== 'playing' && e.reason === 'playbackEnd') noteEnd();
      if (active && active.failed && was === 'playing' && sdkState !== 'playing') { turnEnd(active.failed); return; }
      if (!(convError && sdkState !== 'playing')) setPill('conv', sdkState === 'playing' ? 'playing' : 'idle', name);
      // a user interrupt (the Stop button, or a new turn replacing this one) is handled there
      if (was === 'playing' && sdkState !== 'playing' && active && e.reason !== 'userAction') {
        if (e.reason === 'networkError' || e.reason === 'serverError') turnEnd(String(e.reason));
        else turnEnd(null);
      }
    });
    // first sound from the SDK where it has the event (its first sample's speaker time)
    controller.addEventListener('audiostart', (e) => {
      sdkAudioStart = true;
      const t = turns.get(e.conversationId);
      if (!t || t.soundAt != null) return;
      t.soundAtPending = e.performanceTime;
      t.soundFrom = 'audiostart';
      noteLatency(t, 'sound');
    });
    controller.addEventListener('error', (e) => {
      demo.errors.push(String(e.code || e.message));
      status('SDK error: ' + (e.message || e.code));
    });
    $('avatar-msg').style.display = 'none';
    demo.sdk = 'ready';
    await unlockAudio();
  } catch (e) {
    demo.sdk = 'error';
    $('avatar-msg').style.display = '';
    $('avatar-msg').className = 'avatar-msg bad';
    $('avatar-msg').textContent = 'Could not load the avatar: ' + (e && e.message || e);
  }
}

async function unlockAudio() {
  if (audioUnlocked || !controller) return;
  try {
    await controller.initializeAudioContext();
    audioUnlocked = true;
  } catch (e) { /* needs a user gesture: retried on the next click */ }
}
document.addEventListener('pointerdown', unlockAudio);
document.addEventListener('keydown', unlockAudio);

// ---- relay ---------------------------------------------------------------------------------
function turnOf(id) {
  let t = turns.get(id);
  if (!t) {
    t = { id, audioAt: null, framesAt: null, soundAt: null, motionAt: null, endAt: null, audioSeconds: 0, start: pendingStart };
    pendingStart = null;
    sound.awaiting = t;
    turns.set(id, t);
    demo.turns.push(t);
    if (turns.size > 50) turns.delete(turns.keys().next().value);
  }
  return t;
}

function noteLatency(t, kind) {
  const now = performance.now();
  if (kind === 'audio' && t.audioAt == null) {
    t.audioAt = now;
    if (t.start != null) $('lat-audio').textContent = ms(now - t.start);
  }
  if (kind === 'frames' && t.framesAt == null) {
    t.framesAt = now;
  }
  if (kind === 'sound' && t.soundAt == null) {
    t.soundAt = t.soundAtPending;
    if (t.start != null) $('lat-sound').textContent = ms(t.soundAt - t.start);
  }
  if (kind === 'motion' && t.motionAt == null) {
    t.motionAt = now;
    if (t.start != null) $('lat-motion').textContent = ms(now - t.start);
    if (t.latency && t.start != null) t.latency.motion = now - t.start;
  }
  if (kind === 'end' && t.endAt == null) {
    t.endAt = t.endAtPending;
    if (t.start != null) $('lat-end').textContent = ms(t.endAt - t.start);
    if (t.latency && t.start != null) {
      t.latency.end = t.endAt - t.start;
      t.latency.audioSeconds = t.audioSeconds;
    }
  }
  // recorded once the first sound is known; without the SDK (no sound) on the first payload
  if (t.start != null && t.audioAt != null && t.framesAt != null && !t.recorded && (t.soundAt != null || !controller)) {
    t.recorded = true;
    // motion and end are filled in when they happen (null until then, and for a cut turn)
    t.latency = { turn: t.id, audio: t.audioAt - t.start, frames: t.framesAt - t.start,
      sound: t.soundAt != null ? t.soundAt - t.start : null, soundFrom: t.soundFrom || null,
      motion: t.motionAt != null ? t.motionAt - t.start : null, end: null, audioSeconds: null };
    demo.latencies.push(t.latency);
    const a = demo.latencies.filter((l) => l.sound != null).map((l) => l.sound);
    if (a.length) $('lat-median').textContent = ms(median(a)) + ' (' + a.length + ')';
  }
}

// The SDK schedules decoded audio on its AudioContext with AudioBufferSourceNode.start(when).
// Watching those calls gives the end of what was scheduled (end of turn, and whether the stall
// watchdog sees the audio run dry) and each turn's audio length. First sound comes from the
// SDK's 'audiostart' event; with an SDK that lacks it, the first start() after a turn's first
// Message is timed here instead, through getOutputTimestamp() (output latency included; where
// it is not available, currentTime plus outputLatency).
// performance.now() at which context time `at` reaches the speaker.
function speakerTime(ctx, at) {
  const ts = ctx.getOutputTimestamp ? ctx.getOutputTimestamp() : null;
  if (ts && ts.performanceTime > 0 && ts.contextTime > 0) return ts.performanceTime + (at - ts.contextTime) * 1000;
  return performance.now() + (at - ctx.currentTime + (ctx.outputLatency || 0) + (ctx.baseLatency || 0)) * 1000;
}
function hookSound() {
  const proto = window.AudioBufferSourceNode && AudioBufferSourceNode.prototype;
  if (!proto || proto.__akHooked) return;
  const orig = proto.start;
  proto.__akHooked = true;
  proto.start = function (when, ...rest) {
    try {
      const ctx = this.context;
      if (controller && ctx === controller.audioContext) {
        const at = Math.max(when || 0, ctx.currentTime);
        const dur = this.buffer ? this.buffer.duration : 0;
        sound.ctx = ctx;
        sound.scheduledUntil = Math.max(sound.scheduledUntil, at + dur);
        const t = sound.awaiting;
        if (t) {
          sound.awaiting = null;
          sound.playing = t;
          t.outputLatency = (ctx.outputLatency || 0) * 1000;
          if (!sdkAudioStart && !(sdk && sdk.AudioStartEvent)) { // an SDK without 'audiostart'
            t.soundAtPending = speakerTime(ctx, at);
            t.soundFrom = 'start-hook';
            noteLatency(t, 'sound');
          }
        }
        if (sound.playing) sound.playing.audioSeconds += dur;
      }
    } catch (e) { /* measuring must never break playback */ }
    return orig.call(this, when, ...rest);
  };
}
hookSound();

// First visible motion: the controller logs (recordRenders) each rendered frame whose pose
// holds speech motion, with the media time heard then; the first such frame of the playing
// turn with its audio already heard (media time > 0) and the motion blended in is the turn's
// first visible motion, timed at that render (drawn on the next display refresh). The log is
// emptied as it is read.
function hookMotion(ctl) {
  const orig = ctl.samplePose.bind(ctl);
  ctl.samplePose = (out, wall) => {
    orig(out, wall);
    try {
      const log = ctl.renders;
      const t = sound.playing;
      if (t && t.motionAt == null) {
        for (const r of log) {
          if (r.conversationId === t.id && r.mediaTime > 0 && r.speechWeight > 0) { noteLatency(t, 'motion'); break; }
        }
      }
      log.length = 0;
    } catch (e) { /* measuring must never break rendering */ }
  };
}
// End of turn: the SDK ends playback once the last scheduled sample has been heard; the end
// of what was scheduled, mapped to the speaker's time, is when the last sample played.
function noteEnd() {
  const t = sound.playing;
  if (!t || !sound.ctx) return;
  sound.playing = null;
  t.endAtPending = speakerTime(sound.ctx, sound.scheduledUntil);
  noteLatency(t, 'end');
}
function audioDry() { return !sound.ctx || sound.ctx.currentTime >= sound.scheduledUntil; }

// ---- turn supervision ------------------------------------------------------------------------
function turnBegin() { convError = false; active = { since: performance.now(), lastTraffic: performance.now(), failed: null }; }
// The turn ended: normally (played out, or answered without the SDK), or with an error.
function turnEnd(error) {
  if (!active) return;
  active = null;
  demo.turnEnds.push({ error: error || null, t: performance.now(), state: sdkState });
  if (!error) return;
  convError = true;
  // also drops what is buffered and not started yet, so a cut turn cannot start playing later
  if (controller) { try { controller.interrupt(); } catch (e) { /* nothing playing */ } }
  if (agentBubble) { agentBubble.textContent += ' …'; agentBubble = null; }
  setPill('conv', 'error', 'error');
  addMsg('err', 'answer cut: ' + error);
}
// A relayed error or a dropped socket during a turn: what was received still plays out, then
// the turn ends with the error (at once when nothing is playing).
function turnFail(why) {
  if (!active) return;
  if (!active.failed) active.failed = why;
  // the SDK plays out what it has of the cut answer, drops it when it has not started, and
  // takes no more of it (SDKs without endConversation: turnEnd() interrupts instead)
  if (controller && active.id && typeof controller.endConversation === 'function') {
    try { controller.endConversation(active.id, /drop|connection/.test(why) ? 'networkError' : 'serverError'); } catch (e) { /* ended already */ }
  }
  if (sdkState !== 'playing' || audioDry()) turnEnd(active.failed);
}
setInterval(() => {
  if (!active) return;
  const now = performance.now();
  if (active.failed && (sdkState !== 'playing' || audioDry())) { turnEnd(active.failed); return; }
  const quiet = now - Math.max(active.lastTraffic, lastTraffic);
  if (quiet > STALL_MS && active.textDone && !active.messages && sdkState !== 'playing') {
    turnEnd(null); // a reply with nothing to say aloud
    if (!convError) setPill('conv', 'idle', 'idle');
  } else if (quiet > STALL_MS && (sdkState !== 'playing' || audioDry())) {
    turnEnd('nothing arrived for ' + Math.round(quiet / 1000) + ' s');
  }
}, 250);

// One relayed Message: audio and motion of one request, in one binary frame. The SDK reads
// it (yieldMessage) and says which request (conversation) it belongs to.
let anonTurns = 0;
function onAvatarMessage(buf) {
  if (active) active.messages = (active.messages || 0) + 1;
  const id = controller ? controller.yieldMessage(buf) : null;
  if (active && id) active.id = id;
  // without the SDK nobody reads the request id: a submitted question starts the next turn
  const t = turnOf(id ?? 'no-sdk-' + (pendingStart != null ? ++anonTurns : anonTurns));
  t.messages = (t.messages || 0) + 1;
  t.bytes = (t.bytes || 0) + buf.byteLength;
  noteLatency(t, 'audio');
  noteLatency(t, 'frames');
}

// Everything of an interrupted turn arrives before the backend's "interrupt", and the SDK
// drops late Messages of the requests it interrupted, so nothing more is needed here.
function interruptLocally(reason) {
  sound.playing = null; // a stopped turn has no end of turn
  if (controller) { try { controller.interrupt(); } catch (e) { /* nothing playing */ } }
  if (agentBubble) { agentBubble.textContent += ' …'; agentBubble = null; }
  if (reason) addMsg('note', 'interrupted (' + reason + ')');
}

// ---- WebSocket -----------------------------------------------------------------------------
function connect() {
  setPill('conn', 'connecting', 'connecting…');
  demo.connection = 'connecting';
  ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/agent');
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => { reconnectDelay = 500; setPill('conn', 'open', 'connected'); demo.connection = 'open'; };
  ws.onclose = () => {
    turnFail('the connection to the backend dropped');
    setPill('conn', 'closed', 'disconnected');
    demo.connection = 'closed';
    ready = demo.ready = null; // not ready again until the backend says so
    setTimeout(connect, reconnectDelay);
    reconnectDelay = Math.min(reconnectDelay * 2, 8000);
  };
  ws.onmessage = (ev) => {
    lastTraffic = performance.now();
    if (ev.data instanceof ArrayBuffer) {
      demo.wire.binary += ev.data.byteLength;
      demo.wire.binaryMessages++;
      onAvatarMessage(ev.data);
      return;
    }
    demo.wire.text += utf8.encode(ev.data).length;
    demo.wire.textMessages++;
    let m;
    try { m = JSON.parse(ev.data); } catch (e) { return; }
    switch (m.type) {
      case 'ready': {
        const first = !ready || !ready.avatar || ready.avatar.avatarId !== m.avatar.avatarId;
        ready = demo.ready = m;
        const a = m.agent || {};
        $('agent-badge').textContent = a.llm === 'local' ? 'Built-in local agent' : 'LLM: ' + (a.label || a.llm || '?');
        $('agent-badge').className = 'badge' + (a.llm === 'local' ? ' local' : '');
        $('agent-detail').textContent = [a.llm === 'local' ? 'rule based, no LLM configured' : '',
          'voice ' + (a.ttsVoice || a.tts || '?'), 'speech recognition ' + (a.asr || '?')].filter(Boolean).join(' · ');
        if (first) setupAvatar(m);
        break;
      }
      case 'agent_event':
        if (m.event === 'asr_partial') $('partial').textContent = m.text;
        else if (m.event === 'asr_final') {
          $('partial').textContent = '';
          if (m.text) addMsg('user', m.text, true);
          if (pendingStart == null) pendingStart = performance.now();
          if (m.text) { turnBegin(); setPill('conv', 'thinking', 'answering'); }
        } else if (m.event === 'llm_text') {
          if (!agentBubble) { agentBubble = addMsg('agent', ''); if (sdkState !== 'playing') setPill('conv', 'thinking', 'answering'); }
          agentBubble.textContent += m.text;
          demo.transcript[demo.transcript.length - 1].text = agentBubble.textContent;
          scrollChat();
        } else if (m.event === 'llm_done') {
          if (!agentBubble && m.text) addMsg('agent', m.text);
          agentBubble = null;
          // without the SDK nothing plays: the turn is over; with it, the audio usually comes
          // after the text (the watchdog ends a turn whose audio never comes)
          if (active) active.textDone = true;
          if (active && !controller && !active.failed) { turnEnd(null); setPill('conv', 'idle', 'idle'); }
        }
        break;
      case 'interrupt': interruptLocally(m.reason === 'new_turn' ? '' : m.reason); break;
      case 'status': status(m.message); break;
      case 'error':
        demo.errors.push(m.code);
        addMsg('err', m.code + ': ' + m.message);
        turnFail(m.code);
        break;
      default: break;
    }
  };
}

// ---- text ----------------------------------------------------------------------------------
$('ask').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('text').value.trim();
  if (!text) return;
  if (!send({ type: 'text_query', text })) { status('not connected'); return; }
  unlockAudio();
  pendingStart = performance.now();
  agentBubble = null;
  addMsg('user', text);
  turnBegin();
  setPill('conv', 'thinking', 'answering');
  $('text').value = '';
});

$('stop').addEventListener('click', () => {
  send({ type: 'interrupt' });
  turnEnd(null);
  interruptLocally('');
});

// ---- push-to-talk microphone ---------------------------------------------------------------
const mic = { on: false, ctx: null, stream: null, node: null, pos: 0, prev: 0, chunks: [], n: 0 };

// Linear-interpolating resampler to 16 kHz that carries its phase across blocks.
function resampleTo16k(x, rate) {
  const step = rate / MIC_RATE;
  const out = [];
  let pos = mic.pos;
  while (pos < x.length) {
    const i = Math.floor(pos), f = pos - i;
    const a = i === 0 && f < 0 ? mic.prev : x[i];
    const b = i + 1 < x.length ? x[i + 1] : x[i];
    out.push(a + (b - a) * f);
    pos += step;
  }
  mic.pos = pos - x.length;
  mic.prev = x[x.length - 1];
  return out;
}

function flushMic(force) {
  if (!mic.n || (!force && mic.n < MIC_RATE / 10)) return;
  const pcm = new Int16Array(mic.n);
  let o = 0;
  for (const c of mic.chunks) for (const v of c) pcm[o++] = Math.max(-32768, Math.min(32767, Math.round(v * 32767)));
  mic.chunks = [];
  mic.n = 0;
  send({ type: 'mic_audio', audio: bytesToB64(new Uint8Array(pcm.buffer)) });
}

async function micStart() {
  if (mic.on) return;
  mic.on = true;
  $('mic').classList.add('on');
  $('mic-label').textContent = 'Listening… release to send';
  try {
    mic.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    if (!mic.on) { micRelease(); return; }
    // A 16 kHz context lets the browser resample with a proper filter; where a stream cannot
    // feed a context at another rate (some browsers), fall back to ours.
    let src;
    try {
      mic.ctx = new AudioContext({ sampleRate: MIC_RATE });
      src = mic.ctx.createMediaStreamSource(mic.stream);
    } catch (e) {
      if (mic.ctx) mic.ctx.close();
      mic.ctx = new AudioContext();
      src = mic.ctx.createMediaStreamSource(mic.stream);
    }
    mic.prev = 0;
    mic.node = mic.ctx.createScriptProcessor(4096, 1, 1);
    mic.pos = 0;
    mic.node.onaudioprocess = (e) => {
      if (!mic.on) return;
      const y = resampleTo16k(e.inputBuffer.getChannelData(0), mic.ctx.sampleRate);
      mic.chunks.push(y);
      mic.n += y.length;
      flushMic(false);
    };
    src.connect(mic.node);
    mic.node.connect(mic.ctx.destination);
    demo.micStarted = true;
  } catch (e) {
    status('microphone unavailable: ' + (e && e.message || e));
    mic.on = false;
    micRelease();
  }
}

function micRelease() {
  $('mic').classList.remove('on');
  $('mic-label').textContent = 'Hold to talk';
  if (mic.node) { mic.node.disconnect(); mic.node = null; }
  if (mic.stream) { mic.stream.getTracks().forEach((t) => t.stop()); mic.stream = null; }
  if (mic.ctx) { mic.ctx.close(); mic.ctx = null; }
}

function micStop() {
  if (!mic.on) return;
  mic.on = false;
  flushMic(true);
  send({ type: 'mic_end' });
  pendingStart = performance.now(); // end of speech: the latency clock starts
  micRelease();
}

$('mic').addEventListener('pointerdown', (e) => { e.preventDefault(); micStart(); });
$('mic').addEventListener('pointerup', micStop);
$('mic').addEventListener('pointerleave', micStop);
document.addEventListener('keydown', (e) => {
  if (e.code === 'Space' && !e.repeat && document.activeElement !== $('text')) { e.preventDefault(); micStart(); }
});
document.addEventListener('keyup', (e) => {
  if (e.code === 'Space' && document.activeElement !== $('text')) { e.preventDefault(); micStop(); }
});

// ---- start ---------------------------------------------------------------------------------
(async () => {
  sdk = await loadSdk();
  if (!sdk) {
    demo.sdk = 'missing';
    $('avatar-msg').className = 'avatar-msg bad';
    $('avatar-msg').innerHTML = 'SDK not built.<br><small>Run <code>npm ci &amp;&amp; npm run build</code> in <code>web/</code> ' +
      '(scripts/demo.sh does it). Text and voice still work; the avatar cannot be shown.</small>';
  }
  connect();
})();
