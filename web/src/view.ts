/* AvatarView: a WebGL canvas (three.js) inside a container element that renders an Avatar
 * with its AvatarController's pose every display frame, framed head and shoulders, following
 * the container's size and devicePixelRatio. Its dependencies come in through its options (an
 * SDK instance or a ready controller); it reads no page-wide state. */

import {
  ACESFilmicToneMapping, Box3, Group, type Object3D,
  PerspectiveCamera, Scene, SRGBColorSpace, Vector3, WebGLRenderer,
} from 'three';
import { ARKIT_COUNT, arkitIndex } from './arkit.js';
import { defaultDecoderFactory, wasmDecoderFactory } from './audio.js';
import { AvatarController } from './controller.js';
import { AvatarKitError, ErrorCode } from './errors.js';
import { type AvatarViewEventMap, FirstRenderEvent, typedEventTarget } from './events.js';
import type { Logger } from './log.js';
import type { Avatar } from './manager.js';
import { FRAME_STRIDE } from './motion.js';
import { type LightingMode, setupBackground, setupLighting } from './lighting.js';
import { parseAvatarModel } from './loader.js';
import { AvatarRig } from './rig.js';
import type { AvatarSDKImpl } from './sdk.js';

export interface ViewTransform {
  /** Horizontal offset, fraction of the view width (positive moves the avatar right). */
  x: number;
  /** Vertical offset, fraction of the view height (positive moves the avatar up). */
  y: number;
  /** Zoom factor, 1 = default head-and-shoulders framing. */
  scale: number;
}

export interface AvatarViewOptions {
  /** The SDK instance (e.g. AvatarSDK) whose configuration, session token and logger the
   *  view's controller uses. One of sdk and controller is required. */
  sdk?: AvatarSDKImpl;
  /** A controller built by the app (the view renders its pose and disposes it with itself);
   *  recordRenders, idle and decoder are then the controller's business. */
  controller?: AvatarController;
  /** Background: a CSS colour, or 'studio' (a soft radial gradient that sets off the face);
   *  default transparent (the page shows through). */
  background?: string;
  /** Lighting: 'soft' (default: hemisphere + key, fill and rim, low contrast), 'studio'
   *  (adds image-based environment light; softest, costlier per pixel) or 'basic' (the
   *  earlier, higher-contrast setup). See docs/avatars.md. */
  lighting?: LightingMode;
  /** Cap on devicePixelRatio (default 2). */
  maxPixelRatio?: number;
  /** Keep a per-frame render log in controller.renders (tests, benchmarks). */
  recordRenders?: boolean;
  /** Idle life when not speaking (default true). */
  idle?: boolean;
  /** Opus decoder: 'auto' (WebCodecs, else wasm), or force 'wasm' (default 'auto'). */
  decoder?: 'auto' | 'wasm';
  /** Folder (URL) of the Draco decoder files for Draco-compressed avatars; default draco/
   *  beside the SDK module (web/dist/draco/). */
  dracoDecoderPath?: string;
}

const CPU_SAMPLES = 600;

export class AvatarView extends typedEventTarget<AvatarViewEventMap>() {
  readonly controller: AvatarController;
  readonly canvas: HTMLCanvasElement;
  /** Shorthand for a 'firstrender' listener: called once, after the first frame with the
   *  avatar on screen (after the event's listeners). */
  onFirstRendering: (() => void) | null = null;
  private readonly log: Logger;
  renderer: WebGLRenderer | null = null;
  readonly scene = new Scene();
  readonly camera = new PerspectiveCamera(24, 1, 0.01, 100);
  rig: AvatarRig | null = null;
  /** Resolves when the avatar's model is parsed and bound (rejects on a bad asset). */
  readonly ready: Promise<void>;
  private root = new Group();
  private pose = new Float32Array(FRAME_STRIDE);
  private raf = 0;
  private ro: ResizeObserver | null = null;
  private disposed = false;
  private firstDone = false;
  private t: ViewTransform = { x: 0, y: 0, scale: 1 };
  private focus = new Vector3(0, 1.6, 0);
  private frameHeight = 0.6;
  private cpu = new Float64Array(CPU_SAMPLES);
  private cpuN = 0;
  private size = { w: 0, h: 0, dpr: 0 };
  private expression = new Float32Array(ARKIT_COUNT);
  private headOffset = new Float32Array(3);

  /**
   * Adds a constant expression on top of playback and idle motion, by ARKit name (0..1 each),
   * e.g. {mouthSmileLeft: 0.3, mouthSmileRight: 0.3}; headPitch/headYaw/headRoll (radians)
   * offset the head. null clears it.
   */
  setExpression(weights: Record<string, number> | null): void {
    this.expression.fill(0);
    this.headOffset.fill(0);
    if (!weights) return;
    for (const [name, v] of Object.entries(weights)) {
      const h = ['headPitch', 'headYaw', 'headRoll'].indexOf(name);
      if (h >= 0 && Number.isFinite(v)) this.headOffset[h] = Math.max(-1, Math.min(1, v));
      const k = arkitIndex(name);
      if (k >= 0 && Number.isFinite(v)) this.expression[k] = Math.min(1, Math.max(0, v));
    }
  }

  constructor(readonly avatar: Avatar, readonly container: HTMLElement, options: AvatarViewOptions) {
    super();
    const sdk = options?.sdk;
    if (options?.controller) {
      this.controller = options.controller;
    } else if (sdk) {
      const cfg = sdk.requireConfig();
      this.controller = new AvatarController({
        mode: cfg.drivingServiceMode,
        sampleRate: cfg.audioFormat.sampleRate,
        appId: sdk.appId ?? '',
        avatarId: avatar.id,
        serverUrl: sdk.serverBase(),
        getSessionToken: () => sdk.sessionToken,
        logger: sdk.logger,
        recordRenders: options.recordRenders,
        idle: options.idle,
        decoderFactory: options.decoder === 'wasm' ? wasmDecoderFactory : defaultDecoderFactory,
      });
    } else {
      throw new AvatarKitError(ErrorCode.INVALID_ARGUMENT, 'AvatarView needs options.sdk (e.g. AvatarSDK) or options.controller');
    }
    this.log = this.controller.logger;
    this.canvas = document.createElement('canvas');
    this.canvas.style.cssText = 'display:block;width:100%;height:100%;touch-action:none';
    container.appendChild(this.canvas);
    try {
      this.renderer = new WebGLRenderer({ canvas: this.canvas, antialias: true, alpha: true, preserveDrawingBuffer: false });
      this.renderer.outputColorSpace = SRGBColorSpace;
      this.renderer.toneMapping = ACESFilmicToneMapping;
      this.renderer.toneMappingExposure = 1.05;
      this.bgTexture = setupBackground(this.scene, options.background);
    } catch (e) {
      this.renderer = null;
      queueMicrotask(() => this.controller.fail(ErrorCode.RENDER_FAILED, `WebGL: ${(e as Error).message}`));
    }
    this.maxDpr = options.maxPixelRatio ?? 2;
    this.disposeLights = setupLighting(this.scene, this.renderer, options.lighting ?? 'soft');
    this.scene.add(this.root);
    this.ready = this.loadModel(options.dracoDecoderPath);
    if (typeof ResizeObserver !== 'undefined') {
      this.ro = new ResizeObserver(() => this.resize());
      this.ro.observe(container);
    }
    this.resize();
    this.raf = requestAnimationFrame(this.loop);
  }
  private maxDpr: number;
  private disposeLights: () => void = () => undefined;
  private bgTexture: { dispose(): void } | null = null;

  /** Deprecated alias used by the commercial SDK's examples. */
  get avatarController(): AvatarController {
    return this.controller;
  }

  get transform(): ViewTransform {
    return { ...this.t };
  }
  set transform(v: Partial<ViewTransform>) {
    const n = { ...this.t, ...v };
    if (![n.x, n.y, n.scale].every(Number.isFinite) || n.scale <= 0) return;
    this.t = n;
    this.updateCamera();
  }

  /** CPU milliseconds spent per rendered frame (pose + scene update + WebGL submit). */
  get cpuStats(): { frames: number; meanMs: number; p95Ms: number } {
    const n = Math.min(this.cpuN, CPU_SAMPLES);
    if (!n) return { frames: 0, meanMs: 0, p95Ms: 0 };
    const a = Array.from(this.cpu.subarray(0, n)).sort((x, y) => x - y);
    return { frames: this.cpuN, meanMs: a.reduce((s, x) => s + x, 0) / n, p95Ms: a[Math.floor(0.95 * (n - 1))] };
  }

  private async loadModel(dracoDecoderPath?: string): Promise<void> {
    try {
      const gltf = await parseAvatarModel(this.avatar.data, { dracoDecoderPath });
      if (this.disposed) return;
      const model = gltf.scene;
      this.root.add(model);
      this.rig = new AvatarRig(model);
      this.frameModel(model);
      const line = `avatar ${this.avatar.id}: ${this.rig.describe()}`;
      if (this.rig.missing.length) this.log.warn(line);
      else this.log.info(line);
    } catch (e) {
      const message = `avatar ${this.avatar.id}: cannot parse glTF: ${(e as Error).message}`;
      this.controller.fail(ErrorCode.AVATAR_LOAD_FAILED, message);
      throw new Error(message);
    }
  }

  /** Frames head and shoulders: centred on the head node if any, else the model's top. */
  private frameModel(model: Object3D): void {
    model.updateWorldMatrix(true, true);
    const box = new Box3().setFromObject(model);
    const size = box.getSize(new Vector3());
    const head = this.rig?.head;
    if (head) {
      const hb = new Box3().setFromObject(head);
      const hp = head.getWorldPosition(new Vector3());
      const hs = hb.isEmpty() ? new Vector3() : hb.getSize(new Vector3());
      const headH = hs.y > 0.05 && hs.y < size.y * 0.6 ? hs.y : Math.max(0.22, size.y * 0.13);
      const centre = hb.isEmpty() ? hp.clone().add(new Vector3(0, headH * 0.5, 0)) : hb.getCenter(new Vector3());
      this.focus.set(centre.x, centre.y - headH * 0.3, centre.z);
      this.frameHeight = headH * 1.7;
    } else {
      const top = box.max.y;
      const h = Math.min(size.y, Math.max(size.x, 0.3) * 1.6);
      this.focus.set((box.min.x + box.max.x) / 2, top - h * 0.45, (box.min.z + box.max.z) / 2);
      this.frameHeight = h;
    }
    this.updateCamera();
  }

  private updateCamera(): void {
    const fov = (this.camera.fov * Math.PI) / 180;
    const dist = this.frameHeight / this.t.scale / 2 / Math.tan(fov / 2);
    this.camera.position.set(this.focus.x, this.focus.y + this.frameHeight * 0.04, this.focus.z + dist);
    this.camera.lookAt(this.focus);
    this.camera.near = dist * 0.05;
    this.camera.far = dist * 20;
    const { w, h } = this.size;
    if (w && h) this.camera.setViewOffset(w, h, -this.t.x * w, this.t.y * h, w, h);
    this.camera.updateProjectionMatrix();
  }

  private resize(): void {
    if (!this.renderer) return;
    const w = Math.max(1, this.container.clientWidth);
    const h = Math.max(1, this.container.clientHeight);
    const dpr = Math.min(this.maxDpr, typeof devicePixelRatio === 'number' ? devicePixelRatio : 1);
    if (w === this.size.w && h === this.size.h && dpr === this.size.dpr) return;
    this.size = { w, h, dpr };
    this.renderer.setPixelRatio(dpr);
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.updateCamera();
  }

  private loop = (): void => {
    if (this.disposed) return;
    this.raf = requestAnimationFrame(this.loop);
    this.renderOnce();
  };

  /** Renders one frame now (the loop calls this; exposed for tests and benchmarks). */
  renderOnce(): void {
    const t0 = performance.now();
    if (!this.ro) this.resize();
    this.controller.samplePose(this.pose, t0 / 1000);
    for (let k = 0; k < ARKIT_COUNT; k++) if (this.expression[k]) this.pose[k] = Math.min(1, this.pose[k] + this.expression[k]);
    for (let k = 0; k < 3; k++) this.pose[ARKIT_COUNT + k] += this.headOffset[k];
    if (this.rig) this.rig.apply(this.pose);
    if (this.renderer) this.renderer.render(this.scene, this.camera);
    if (this.rig) {
      this.cpu[this.cpuN % CPU_SAMPLES] = performance.now() - t0;
      this.cpuN++;
      if (!this.firstDone) {
        this.firstDone = true;
        this.dispatchEvent(new FirstRenderEvent());
        try {
          this.onFirstRendering?.();
        } catch (e) {
          this.log.error('onFirstRendering threw', e);
        }
      }
    }
  }

  /** Stops rendering, closes audio and connection, frees GPU memory, removes the canvas. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    cancelAnimationFrame(this.raf);
    this.ro?.disconnect();
    this.controller.dispose();
    this.scene.traverse((o) => {
      const m = o as unknown as { geometry?: { dispose(): void }; material?: { dispose(): void } | { dispose(): void }[] };
      m.geometry?.dispose();
      const mats = Array.isArray(m.material) ? m.material : m.material ? [m.material] : [];
      for (const mat of mats) {
        for (const v of Object.values(mat)) if (v && typeof v === 'object' && 'isTexture' in v) (v as { dispose(): void }).dispose();
        mat.dispose();
      }
    });
    this.disposeLights();
    this.bgTexture?.dispose();
    this.renderer?.dispose();
    this.renderer?.forceContextLoss();
    this.canvas.remove();
  }
}
