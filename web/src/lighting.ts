/* Lighting and background of the avatar view.
 *
 * 'soft' (default): a hemisphere light (warm sky, light bounce from below) and three directional
 * lights (gentle warm key from the upper left, strong cool fill, rim light that separates hair
 * and shoulders from the background): low contrast on the face at the cost of 'basic'.
 * 'studio': image-based light from three.js's RoomEnvironment (prefiltered once with PMREM)
 * plus key, fill and rim; the softest, but each pixel samples the environment (about twice
 * the frame time of 'soft' on a software renderer; nothing to speak of on a GPU).
 * 'basic': the earlier higher-contrast setup, same cost as 'soft'.
 * ACES filmic tone mapping is set by the view for all three.
 *
 * Background 'studio': a soft radial gradient (warm light grey behind the head, darker at the
 * edges) drawn once into a small canvas texture; any other string is a CSS colour; none keeps
 * the canvas transparent so the page shows through. */

import {
  CanvasTexture, Color, DirectionalLight, HemisphereLight, PMREMGenerator, SRGBColorSpace,
  type Scene, type Texture, type WebGLRenderer,
} from 'three';
import { RoomEnvironment } from 'three/examples/jsm/environments/RoomEnvironment.js';

export type LightingMode = 'soft' | 'studio' | 'basic';

type Dir = [color: number, intensity: number, x: number, y: number, z: number];
/** A rig: hemisphere light (sky, ground, intensity), then key, fill and rim directional lights. */
interface Rig { sky: [number, number, number]; lights: [key: Dir, fill: Dir, rim: Dir] }

const RIGS: Record<LightingMode, Rig> = {
  studio: {
    sky: [0xfff1e6, 0x6f625e, 0.35],
    lights: [[0xfff0e0, 1.7, 1.4, 2.0, 2.6], [0xd8e6ff, 0.45, -2.2, 0.6, 1.6], [0xffffff, 1.3, -0.8, 2.2, -2.6]],
  },
  // the same four lights as 'basic' (same cost), arranged for a flattering low-contrast face:
  // bright warm sky with a light bounce from below, a gentle key, a strong opposite fill
  soft: {
    sky: [0xfff3ea, 0xc4b2a8, 1.9],
    lights: [[0xfff0e2, 1.35, 1.3, 1.9, 2.8], [0xe2ecff, 0.75, -2.2, 0.7, 2.0], [0xffffff, 1.2, -0.8, 2.2, -2.6]],
  },
  basic: {
    sky: [0xfff4ea, 0x8a7c78, 1.3],
    lights: [[0xffffff, 2.0, 1.2, 2.2, 2.5], [0xcfe0ff, 0.7, -2, 0.8, 1.5], [0xffffff, 1.1, -0.5, 2, -2.5]],
  },
};

/** Adds lights (and for 'studio' an environment) to `scene`; returns what to dispose. */
export function setupLighting(scene: Scene, renderer: WebGLRenderer | null, mode: LightingMode = 'soft'): () => void {
  const owned: { dispose(): void }[] = [];
  let rig = RIGS[mode] ?? RIGS.basic;
  if (mode === 'studio') {
    if (renderer) {
      const pmrem = new PMREMGenerator(renderer);
      const room = new RoomEnvironment();
      const env = pmrem.fromScene(room, 0.04).texture;
      room.dispose();
      pmrem.dispose();
      scene.environment = env;
      scene.environmentIntensity = 0.32;
      owned.push(env);
    } else {
      rig = RIGS.basic; // no renderer to prefilter the environment with: the plain rig
    }
  }
  const [sky, ground, hemi] = rig.sky;
  scene.add(new HemisphereLight(sky, ground, hemi));
  for (const [color, intensity, x, y, z] of rig.lights) {
    const light = new DirectionalLight(color, intensity);
    light.position.set(x, y, z);
    scene.add(light);
  }
  return () => owned.forEach((o) => o.dispose());
}

/** Sets scene.background: 'studio' gradient, a CSS colour, or nothing (transparent). */
export function setupBackground(scene: Scene, background: string | undefined): Texture | null {
  if (!background) return null;
  if (background !== 'studio') {
    scene.background = new Color(background);
    return null;
  }
  if (typeof document === 'undefined') return null;
  const c = document.createElement('canvas');
  c.width = 256;
  c.height = 256;
  const g = c.getContext('2d');
  if (!g) return null;
  const grad = g.createRadialGradient(128, 96, 10, 128, 128, 190);
  grad.addColorStop(0, '#e9e4df');
  grad.addColorStop(0.55, '#c9c6c8');
  grad.addColorStop(1, '#8e929c');
  g.fillStyle = grad;
  g.fillRect(0, 0, 256, 256);
  const tex = new CanvasTexture(c);
  tex.colorSpace = SRGBColorSpace;
  scene.background = tex;
  return tex;
}
