// Minimal glTF 2.0 binary (GLB) writer for generated avatars: node hierarchy, triangle meshes
// with normals, vertex colours, per-material PBR factors and named morph targets (position
// and normal deltas, stored sparse when most vertices do not move).

const ALIGN = 4;

export function writeGlb({ nodes, meshes, materials }) {
  const bufs = [];
  let byteLength = 0;
  const bufferViews = [];
  const accessors = [];
  function addView(typed, target) {
    const pad = (ALIGN - (byteLength % ALIGN)) % ALIGN;
    if (pad) { bufs.push(new Uint8Array(pad)); byteLength += pad; }
    const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
    bufs.push(bytes);
    const view = { buffer: 0, byteOffset: byteLength, byteLength: bytes.length };
    if (target) view.target = target;
    byteLength += bytes.length;
    bufferViews.push(view);
    return bufferViews.length - 1;
  }
  function minmax(arr, n) {
    const min = Array(n).fill(Infinity), max = Array(n).fill(-Infinity);
    for (let i = 0; i < arr.length; i++) {
      const k = i % n;
      if (arr[i] < min[k]) min[k] = arr[i];
      if (arr[i] > max[k]) max[k] = arr[i];
    }
    return { min: min.map((v) => (Number.isFinite(v) ? v : 0)), max: max.map((v) => (Number.isFinite(v) ? v : 0)) };
  }
  function vec3(arr, target = 34962, bounds = true) {
    const a = { bufferView: addView(arr, target), componentType: 5126, count: arr.length / 3, type: 'VEC3' };
    if (bounds) Object.assign(a, minmax(arr, 3));
    accessors.push(a);
    return accessors.length - 1;
  }
  /** Morph delta accessor: sparse when fewer than 40% of vertices move. */
  function delta(arr) {
    const n = arr.length / 3;
    const moved = [];
    for (let i = 0; i < n; i++) if (arr[3 * i] || arr[3 * i + 1] || arr[3 * i + 2]) moved.push(i);
    const mm = minmax(arr, 3);
    if (moved.length === 0) {
      accessors.push({ componentType: 5126, count: n, type: 'VEC3', min: [0, 0, 0], max: [0, 0, 0] });
      return accessors.length - 1;
    }
    if (moved.length > n * 0.4) {
      accessors.push({ bufferView: addView(arr), componentType: 5126, count: n, type: 'VEC3', ...mm });
      return accessors.length - 1;
    }
    const idx = new Uint32Array(moved);
    const val = new Float32Array(moved.length * 3);
    moved.forEach((v, i) => val.set(arr.subarray(3 * v, 3 * v + 3), 3 * i));
    accessors.push({
      componentType: 5126, count: n, type: 'VEC3', ...mm,
      sparse: { count: moved.length, indices: { bufferView: addView(idx), componentType: 5125 }, values: { bufferView: addView(val) } },
    });
    return accessors.length - 1;
  }
  const gMeshes = meshes.map((m) => {
    const attributes = { POSITION: vec3(m.positions), NORMAL: vec3(m.normals, 34962, false) };
    if (m.colors) {
      accessors.push({ bufferView: addView(m.colors, 34962), componentType: 5126, count: m.colors.length / 4, type: 'VEC4' });
      attributes.COLOR_0 = accessors.length - 1;
    }
    const big = m.positions.length / 3 > 65535;
    const ind = big ? new Uint32Array(m.indices) : new Uint16Array(m.indices);
    accessors.push({ bufferView: addView(ind, 34963), componentType: big ? 5125 : 5123, count: ind.length, type: 'SCALAR' });
    const prim = { attributes, indices: accessors.length - 1, material: m.material, mode: 4 };
    const out = { name: m.name, primitives: [prim] };
    if (m.targets?.length) {
      prim.targets = m.targets.map((t) => {
        const o = { POSITION: delta(t.positions) };
        if (t.normals) o.NORMAL = delta(t.normals);
        return o;
      });
      out.weights = m.targets.map(() => 0);
      out.extras = { targetNames: m.targets.map((t) => t.name) };
    }
    return out;
  });
  const json = {
    asset: { version: '2.0', generator: 'avatarkit make-avatar' },
    scene: 0,
    scenes: [{ nodes: nodes.filter((n) => n.root).map((n) => nodes.indexOf(n)) }],
    nodes: nodes.map((n) => {
      const o = { name: n.name };
      if (n.mesh !== undefined) o.mesh = n.mesh;
      if (n.children?.length) o.children = n.children;
      if (n.translation) o.translation = n.translation;
      return o;
    }),
    meshes: gMeshes,
    materials: materials.map((m) => ({
      name: m.name,
      pbrMetallicRoughness: { baseColorFactor: m.color ?? [1, 1, 1, 1], metallicFactor: m.metallic ?? 0, roughnessFactor: m.roughness ?? 0.6 },
      ...(m.doubleSided ? { doubleSided: true } : {}),
    })),
    accessors,
    bufferViews,
    buffers: [{ byteLength }],
  };
  let jsonBytes = new TextEncoder().encode(JSON.stringify(json));
  const jpad = (4 - (jsonBytes.length % 4)) % 4;
  const jb = new Uint8Array(jsonBytes.length + jpad).fill(0x20);
  jb.set(jsonBytes);
  const binPad = (4 - (byteLength % 4)) % 4;
  const total = 12 + 8 + jb.length + 8 + byteLength + binPad;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x46546c67, true);
  dv.setUint32(4, 2, true);
  dv.setUint32(8, total, true);
  dv.setUint32(12, jb.length, true);
  dv.setUint32(16, 0x4e4f534a, true);
  out.set(jb, 20);
  let o = 20 + jb.length;
  dv.setUint32(o, byteLength + binPad, true);
  dv.setUint32(o + 4, 0x004e4942, true);
  o += 8;
  for (const b of bufs) { out.set(b, o); o += b.length; }
  return out;
}

/** Smooth vertex normals of an indexed triangle mesh. */
export function computeNormals(pos, idx) {
  const n = new Float32Array(pos.length);
  for (let i = 0; i < idx.length; i += 3) {
    const a = idx[i] * 3, b = idx[i + 1] * 3, c = idx[i + 2] * 3;
    const ux = pos[b] - pos[a], uy = pos[b + 1] - pos[a + 1], uz = pos[b + 2] - pos[a + 2];
    const vx = pos[c] - pos[a], vy = pos[c + 1] - pos[a + 1], vz = pos[c + 2] - pos[a + 2];
    const nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
    for (const k of [a, b, c]) { n[k] += nx; n[k + 1] += ny; n[k + 2] += nz; }
  }
  for (let i = 0; i < n.length; i += 3) {
    const l = Math.hypot(n[i], n[i + 1], n[i + 2]) || 1;
    n[i] /= l; n[i + 1] /= l; n[i + 2] /= l;
  }
  return n;
}
