/* Binds a loaded glTF scene to ARKit channels: every mesh's morph targets whose names map to
 * one of the 52 blendshapes (any spelling), the head node or bone for head rotation, and eye
 * bones for gaze when the asset has no eyeLook targets. Missing targets are ignored and
 * listed (missing). An avatar with Oculus / Ready Player Me viseme targets but no ARKit mouth
 * speaks through its visemes, weighted from the ARKit mouth channels (visemeWeights). */

import type { Object3D, Mesh, Quaternion as TQuaternion } from 'three';
import { Euler, Quaternion } from 'three';
import { ARKIT, ARKIT_COUNT, type ArkitName, VISEME_COUNT, arkitIndex, missingChannels, visemeIndex, visemeWeights } from './arkit.js';

interface Binding {
  mesh: Mesh;
  influence: number[];
  channel: number[];
}

const HEAD_RE = /^(head|mixamorig:?head|.*[._:]head)$/i;
const LEFT_EYE_RE = /^(lefteye|eye_?l(eft)?|mixamorig:?lefteye)$/i;
const RIGHT_EYE_RE = /^(righteye|eye_?r(ight)?|mixamorig:?righteye)$/i;

export class AvatarRig {
  private bindings: Binding[] = [];
  /** Channels with at least one morph target in the asset. */
  readonly channels = new Set<number>();
  /** Viseme targets (0..14, VISEME_NAMES order) found in the asset. */
  readonly visemes = new Set<number>();
  /** True when the mouth is driven through viseme targets (no ARKit jawOpen in the asset). */
  readonly visemeMouth: boolean;
  private visemeBindings: Binding[] = [];
  private visemeW = new Float32Array(VISEME_COUNT);
  readonly head: Object3D | null;
  private headRest: TQuaternion | null = null;
  private eyes: { node: Object3D; rest: TQuaternion; side: 'L' | 'R' }[] = [];
  private euler = new Euler(0, 0, 0, 'YXZ');
  private q = new Quaternion();

  constructor(root: Object3D) {
    let head: Object3D | null = null;
    root.traverse((o) => {
      const m = o as Mesh;
      if ((m as { isMesh?: boolean }).isMesh && m.morphTargetDictionary && m.morphTargetInfluences) {
        const b: Binding = { mesh: m, influence: [], channel: [] };
        const v: Binding = { mesh: m, influence: [], channel: [] };
        for (const [name, idx] of Object.entries(m.morphTargetDictionary)) {
          const ch = arkitIndex(name);
          if (ch >= 0) {
            b.influence.push(idx);
            b.channel.push(ch);
            this.channels.add(ch);
            continue;
          }
          const vi = visemeIndex(name);
          if (vi >= 0) {
            v.influence.push(idx);
            v.channel.push(vi);
            this.visemes.add(vi);
          }
        }
        if (b.influence.length) this.bindings.push(b);
        if (v.influence.length) this.visemeBindings.push(v);
      }
      if (!head && HEAD_RE.test(o.name)) head = o;
      if (LEFT_EYE_RE.test(o.name)) this.eyes.push({ node: o, rest: o.quaternion.clone(), side: 'L' });
      if (RIGHT_EYE_RE.test(o.name)) this.eyes.push({ node: o, rest: o.quaternion.clone(), side: 'R' });
    });
    this.head = head;
    this.visemeMouth = this.visemeBindings.length > 0 && !this.channels.has(ARKIT.jawOpen);
    if (!this.visemeMouth) this.visemeBindings = [];
    if (head) this.headRest = (head as Object3D).quaternion.clone();
    // Eye bones only drive gaze when the asset does not sculpt eyeLook targets.
    if (this.channels.has(ARKIT.eyeLookInLeft) || this.channels.has(ARKIT.eyeLookOutLeft)) this.eyes = [];
  }

  get morphMeshCount(): number {
    return new Set([...this.bindings, ...this.visemeBindings].map((b) => b.mesh)).size;
  }

  /** ARKit channels the asset has no target for (index order). */
  get missing(): ArkitName[] {
    return missingChannels(this.channels);
  }

  /** One line for logs: channels bound, visemes used, what is missing. */
  describe(): string {
    const miss = this.missing;
    let s = `${this.channels.size}/${ARKIT_COUNT} ARKit channels on ${this.morphMeshCount} meshes`;
    if (this.visemeMouth) s += `; mouth driven through ${this.visemes.size} viseme targets`;
    if (miss.length) s += `; missing ${miss.length}: ${miss.join(' ')}`;
    return s;
  }

  /** Applies a pose: 52 weights (0..1) then head pitch, yaw, roll in radians. */
  apply(pose: Float32Array): void {
    for (const b of this.bindings) {
      const inf = b.mesh.morphTargetInfluences!;
      for (let i = 0; i < b.influence.length; i++) inf[b.influence[i]] = pose[b.channel[i]];
    }
    if (this.visemeBindings.length) {
      visemeWeights(pose, this.visemeW);
      for (const b of this.visemeBindings) {
        const inf = b.mesh.morphTargetInfluences!;
        for (let i = 0; i < b.influence.length; i++) inf[b.influence[i]] = this.visemeW[b.channel[i]];
      }
    }
    if (this.head && this.headRest) {
      this.euler.set(pose[ARKIT_COUNT], pose[ARKIT_COUNT + 1], pose[ARKIT_COUNT + 2], 'YXZ');
      this.q.setFromEuler(this.euler);
      this.head.quaternion.copy(this.headRest).multiply(this.q);
    }
    for (const e of this.eyes) {
      const L = e.side === 'L';
      const yaw = L
        ? (pose[ARKIT.eyeLookOutLeft] - pose[ARKIT.eyeLookInLeft]) * 0.45
        : (pose[ARKIT.eyeLookInRight] - pose[ARKIT.eyeLookOutRight]) * 0.45;
      const up = L ? pose[ARKIT.eyeLookUpLeft] - pose[ARKIT.eyeLookDownLeft] : pose[ARKIT.eyeLookUpRight] - pose[ARKIT.eyeLookDownRight];
      this.euler.set(-up * 0.35, yaw, 0, 'YXZ');
      this.q.setFromEuler(this.euler);
      e.node.quaternion.copy(e.rest).multiply(this.q);
    }
  }

  /** Current influence of a channel on the first mesh that has it (tests, debugging). */
  influence(channel: number): number {
    for (const b of this.bindings) {
      const i = b.channel.indexOf(channel);
      if (i >= 0) return b.mesh.morphTargetInfluences![b.influence[i]];
    }
    return NaN;
  }

  /** Current influence of a viseme (0..14) on the first mesh that has it, NaN if not driven. */
  visemeInfluence(viseme: number): number {
    for (const b of this.visemeBindings) {
      const i = b.channel.indexOf(viseme);
      if (i >= 0) return b.mesh.morphTargetInfluences![b.influence[i]];
    }
    return NaN;
  }
}
