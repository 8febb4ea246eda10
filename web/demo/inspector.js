// Avatar inspector: sliders for the 52 ARKit channels and head rotation. URL parameters for
// screenshots: ?avatar=URL&pose=jawOpen:1,eyeBlinkLeft:0.5&head=pitch,yaw,roll&zoom=1.6&idle=1
import { ARKIT_NAMES, AvatarManager, AvatarSDK, AvatarView } from './avatarkit.standalone.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const hook = (window.__inspector = { ready: false });
let view = null;
const values = {};

function parsePose(s) {
  const o = {};
  for (const part of (s ?? '').split(',').filter(Boolean)) {
    const [k, v] = part.split(':');
    o[k] = v === undefined ? 1 : Number(v);
  }
  return o;
}

async function mount(avatar) {
  view?.dispose();
  view = new AvatarView(avatar, $('stage'), { sdk: AvatarSDK, idle: params.get('idle') === '1', background: params.get('background') ?? undefined, lighting: params.get('lighting') ?? undefined });
  hook.view = view;
  await view.ready;
  const z = Number(params.get('zoom') ?? 1);
  view.transform = { x: Number(params.get('x') ?? 0), y: Number(params.get('y') ?? 0), scale: z };
  $('badge').textContent = `${avatar.id}: ${view.rig.channels.size}/52 ARKit targets`;
  apply();
  await new Promise((r) => view.addEventListener('firstrender', r, { once: true }));
  hook.ready = true;
}

function apply() {
  if (!view) return;
  const h = (params.get('head') ?? '').split(',').map(Number);
  const head = h.length === 3 && h.every(Number.isFinite) ? { headPitch: h[0], headYaw: h[1], headRoll: h[2] } : {};
  view.setExpression({ ...values, ...head });
}

function sliders() {
  const box = $('sliders');
  for (const name of ARKIT_NAMES) {
    const label = document.createElement('label');
    label.textContent = name;
    const input = document.createElement('input');
    Object.assign(input, { type: 'range', min: 0, max: 1, step: 0.01, value: values[name] ?? 0 });
    input.oninput = () => { values[name] = Number(input.value); apply(); };
    box.append(label, input);
  }
}

async function main() {
  await AvatarSDK.initialize('inspector', { drivingServiceMode: 'host' });
  Object.assign(values, parsePose(params.get('pose')));
  sliders();
  $('idle').checked = params.get('idle') === '1';
  await mount(await AvatarManager.shared.load(params.get('avatar') ?? 'default'));
  hook.setPose = (p) => { for (const k of Object.keys(values)) delete values[k]; Object.assign(values, p); apply(); };
}
$('reset').onclick = () => { for (const k of Object.keys(values)) delete values[k]; $('sliders').querySelectorAll('input').forEach((i) => (i.value = 0)); apply(); };
$('idle').onchange = () => { params.set('idle', $('idle').checked ? '1' : '0'); view && mount(view.avatar); };
const useGlb = async (f) => mount(AvatarManager.shared.loadFromData(f.name.replace(/\.glb$/i, ''), await f.arrayBuffer()));
$('glbfile').onchange = (e) => e.target.files[0] && useGlb(e.target.files[0]);
$('drop').ondragover = (e) => e.preventDefault();
$('drop').ondrop = (e) => { e.preventDefault(); const f = e.dataTransfer.files[0]; if (f) useGlb(f); };
main().catch((e) => { hook.fatal = e.message; $('badge').textContent = e.message; });
