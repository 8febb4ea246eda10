/* Binds a loaded glTF scene to ARKit channels: every mesh's morph targets whose names map to
 * one of the 52 blendshapes (any spelling), the head node or bone for head rotation, and eye
 * bones for gaze when the asset has no eyeLook targets. Missing targets are ignored. */

import type { Object3D, Mesh, Quaternion as TQuaternion } from 'three';
import { Euler, Quaternion } from 'three';
import { ARKIT, ARKIT_COUNT, arkitIndex } from './arkit.js';

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
        for (const [name, idx] of Object.entries(m.morphTargetDictionary)) {
          const ch = arkitIndex(name);
          if (ch < 0) continue;
          b.influence.push(idx);
          b.channel.push(ch);
          this.channels.add(ch);
        }
        if (b.influence.length) this.bindings.push(b);
      }
      if (!head && HEAD_RE.test(o.name)) head = o;
      if (LEFT_EYE_RE.test(o.name)) this.eyes.push({ node: o, rest: o.quaternion.clone(), side: 'L' });
      if (RIGHT_EYE_RE.test(o.name)) this.eyes.push({ node: o, rest: o.quaternion.clone(), side: 'R' });
    });
    this.head = head;
    if (head) this.headRest = (head as Object3D).quaternion.clone();
    // Eye bones only drive gaze when the asset does not sculpt eyeLook targets.
    if (this.channels.has(ARKIT.eyeLookInLeft) || this.channels.has(ARKIT.eyeLookOutLeft)) this.eyes = [];
  }

  get morphMeshCount(): number {
    return this.bindings.length;
  }

  /** Applies a pose: 52 weights (0..1) then head pitch, yaw, roll in radians. */
  apply(pose: Float32Array): void {
    for (const b of this.bindings) {
      const inf = b.mesh.morphTargetInfluences!;
      for (let i = 0; i < b.influence.length; i++) inf[b.influence[i]] = pose[b.channel[i]];
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
}
