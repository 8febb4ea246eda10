/* glTF loading for avatars: a GLTFLoader that also reads Draco-compressed
 * (KHR_draco_mesh_compression) and meshopt-compressed (EXT_meshopt_compression) GLBs, with
 * quantized attributes (KHR_mesh_quantization, built into three.js).
 *
 * Decoders come from npm and ship with the SDK, never from a CDN:
 * - meshopt: the `meshoptimizer` package's MeshoptDecoder, bundled into the SDK (its wasm is
 *   inlined, about 10 KiB).
 * - Draco: three.js's decoder (three/examples/jsm/libs/draco: draco_wasm_wrapper.js and
 *   draco_decoder.wasm), which the build copies to dist/draco/. It is fetched from there only
 *   when a GLB uses Draco; an app that serves the SDK elsewhere names the folder with
 *   AvatarViewOptions.dracoDecoderPath. */

import { GLTFLoader, type GLTF } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { DRACOLoader } from 'three/examples/jsm/loaders/DRACOLoader.js';
import { MeshoptDecoder } from 'meshoptimizer/decoder';

export const DRACO_EXTENSION = 'KHR_draco_mesh_compression';
export const MESHOPT_EXTENSION = 'EXT_meshopt_compression';

/** Options for parseAvatarModel. */
export interface ModelLoadOptions {
  /** Folder (URL) holding draco_wasm_wrapper.js and draco_decoder.wasm; default: draco/
   *  beside the SDK module (dist/draco/). */
  dracoDecoderPath?: string;
}

/** The default Draco decoder folder: draco/ next to this module (web/dist/draco/). */
export function defaultDracoPath(): string {
  try {
    return new URL('./draco/', import.meta.url).toString();
  } catch {
    return 'draco/';
  }
}

/** extensionsUsed of a GLB's JSON chunk ([] when it cannot be read). */
export function glbExtensions(data: ArrayBuffer): string[] {
  try {
    const dv = new DataView(data);
    if (data.byteLength < 20 || dv.getUint32(0, true) !== 0x46546c67) return [];
    const len = dv.getUint32(12, true);
    if (dv.getUint32(16, true) !== 0x4e4f534a || 20 + len > data.byteLength) return [];
    const json = JSON.parse(new TextDecoder().decode(new Uint8Array(data, 20, len))) as { extensionsUsed?: unknown };
    return Array.isArray(json.extensionsUsed) ? json.extensionsUsed.filter((e): e is string => typeof e === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * Parses a glTF binary with the decoders it needs. A Draco decoder (web workers) is made
 * only for a GLB that uses Draco and is released after the parse.
 */
export async function parseAvatarModel(data: ArrayBuffer, options: ModelLoadOptions = {}): Promise<GLTF> {
  const loader = new GLTFLoader();
  loader.setMeshoptDecoder(MeshoptDecoder);
  let draco: DRACOLoader | null = null;
  if (glbExtensions(data).includes(DRACO_EXTENSION)) {
    draco = new DRACOLoader();
    draco.setDecoderPath(options.dracoDecoderPath ?? defaultDracoPath());
    draco.setDecoderConfig({ type: 'wasm' });
    loader.setDRACOLoader(draco);
  }
  try {
    return await loader.parseAsync(data, '');
  } finally {
    draco?.dispose();
  }
}
