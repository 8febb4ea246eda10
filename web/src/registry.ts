/* Avatar registry client: finds an avatar by id in a registry, i.e. the Motion Server's
 * `/avatars/<id>/avatar.json` or any static host with the same layout (web/dist/avatars/<id>/
 * of the build), and resolves its model URL. The server refuses sessions for ids it does not
 * have, so loading from the same registry keeps the page and the backend on the same ids. */

import { AvatarKitError, ErrorCode } from './errors.js';

/** Loads an avatar through a registry: `${registryUrl}/avatars/${avatarId}/avatar.json`, then
 *  the model file it names (next to it). */
export interface RegistryAvatarRequest {
  avatarId: string;
  /** Base URL of the registry, e.g. the Motion Server's `http://host:8080` (absolute or
   *  relative to the page). */
  registryUrl: string;
}

/** One avatar's public metadata, as its avatar.json gives it. */
export interface AvatarEntry {
  id: string;
  name: string;
  description: string;
  /** The model's file name (next to avatar.json). */
  model: string;
  /** Absolute URL of avatar.json. */
  metadataUrl: string;
  /** Absolute URL of the model (GLB). */
  modelUrl: string;
  /** Absolute URL of the preview image, when the avatar has one. */
  previewUrl?: string;
  isDefault: boolean;
}

/** Avatar ids of the registry: `[a-z0-9][a-z0-9_-]{0,63}` (as the server checks them). */
export const AVATAR_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** Largest avatar.json accepted, bytes (the server's bound). */
export const MAX_AVATAR_JSON_BYTES = 64 * 1024;
const FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,126}$/;

export function isRegistryRequest(x: unknown): x is RegistryAvatarRequest {
  return typeof x === 'object' && x !== null && 'avatarId' in x && 'registryUrl' in x;
}

const fail = (msg: string): never => {
  throw new AvatarKitError(ErrorCode.AVATAR_LOAD_FAILED, msg);
};

/** URL of an avatar's avatar.json in a registry. Throws INVALID_ARGUMENT for a bad id or URL. */
export function metadataUrl(registryUrl: string, avatarId: string): string {
  if (typeof avatarId !== 'string' || !AVATAR_ID_PATTERN.test(avatarId))
    throw new AvatarKitError(ErrorCode.INVALID_ARGUMENT, `avatarId must match ${AVATAR_ID_PATTERN.source}`);
  if (typeof registryUrl !== 'string')
    throw new AvatarKitError(ErrorCode.INVALID_ARGUMENT, 'registryUrl must be a string');
  const page = typeof location !== 'undefined' ? location.href : 'http://127.0.0.1/';
  let base: URL;
  try {
    base = new URL(registryUrl.replace(/\/?$/, '/'), page);
  } catch {
    throw new AvatarKitError(ErrorCode.INVALID_ARGUMENT, `registryUrl is not a URL: ${registryUrl}`);
  }
  return new URL(`avatars/${avatarId}/avatar.json`, base).toString();
}

/** Reads one avatar's entry from a registry (metadata only; the model is not fetched).
 *  Errors: AVATAR_NOT_FOUND when the registry answers 404, AVATAR_LOAD_FAILED otherwise. */
export async function fetchAvatarEntry(registryUrl: string, avatarId: string, fetchImpl: typeof fetch = fetch): Promise<AvatarEntry> {
  const url = metadataUrl(registryUrl, avatarId);
  let res: Response;
  try {
    res = await fetchImpl(url, { cache: 'no-cache' });
  } catch (e) {
    return fail(`avatar ${avatarId}: network error fetching ${url}: ${(e as Error).message}`);
  }
  if (res.status === 404)
    throw new AvatarKitError(ErrorCode.AVATAR_NOT_FOUND, `avatar ${avatarId}: Avatar not found in the registry at ${registryUrl} (HTTP 404 for ${url})`);
  if (!res.ok) return fail(`avatar ${avatarId}: HTTP ${res.status} for ${url}`);
  const text = await res.text().catch(() => '');
  if (text.length > MAX_AVATAR_JSON_BYTES) return fail(`avatar ${avatarId}: avatar.json larger than ${MAX_AVATAR_JSON_BYTES} bytes`);
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return fail(`avatar ${avatarId}: ${url} is not JSON`);
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) return fail(`avatar ${avatarId}: ${url} is not a JSON object`);
  if (j.id !== avatarId) return fail(`avatar ${avatarId}: ${url} describes "${String(j.id)}"`);
  const model = j.model;
  if (typeof model !== 'string' || !FILE_NAME.test(model)) return fail(`avatar ${avatarId}: "model" must be a file name next to avatar.json`);
  const str = (v: unknown, d: string) => (typeof v === 'string' ? v : d);
  const preview = typeof j.preview === 'string' && FILE_NAME.test(j.preview) ? new URL(j.preview, url).toString() : undefined;
  return {
    id: avatarId,
    name: str(j.name, avatarId),
    description: str(j.description, ''),
    model,
    metadataUrl: url,
    modelUrl: new URL(model, url).toString(),
    previewUrl: preview,
    isDefault: j.default === true,
  };
}
