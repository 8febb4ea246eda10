/* AvatarManager: fetches avatar assets (glTF binaries) from the configured base URL with
 * progress reports, and caches them in memory and, where available, in Cache Storage. */

import { AvatarKitError, ErrorCode } from './errors.js';
import { AvatarSDK, type AvatarSDKImpl } from './sdk.js';
import { fetchAvatarEntry, isRegistryRequest, type AvatarEntry, type RegistryAvatarRequest } from './registry.js';

export type LoadProgress =
  | { type: 'downloading'; progress: number }
  | { type: 'completed'; progress: 100 }
  | { type: 'failed'; error: AvatarKitError };

/** A loaded avatar: its id and the glTF binary (GLB) that AvatarView renders. */
export class Avatar {
  constructor(
    readonly id: string,
    readonly url: string,
    readonly data: ArrayBuffer,
    /** The registry entry, for avatars loaded with `{ avatarId, registryUrl }`. */
    readonly entry?: AvatarEntry,
  ) {}
  get name(): string {
    return this.entry?.name ?? this.id;
  }
}

/** Largest avatar accepted, bytes. */
export const MAX_AVATAR_BYTES = 64 << 20;
const CACHE_NAME = 'avatarkit-avatars-v1';

export class AvatarManager {
  /** A manager of the default AvatarSDK instance. */
  static readonly shared = new AvatarManager(AvatarSDK);
  private cache = new Map<string, Promise<Avatar>>();
  /** sdk: whose configuration (avatarBaseUrl, serverUrl) and logger the manager uses. */
  constructor(private readonly sdk: AvatarSDKImpl) {}

  /** URL an avatar id resolves to; ids that look like URLs are used as they are. */
  resolveUrl(avatarId: string): string {
    const base = typeof location !== 'undefined' ? location.href : 'http://127.0.0.1/';
    if (/^(https?:|blob:|data:)|\/|\.glb$|\.gltf$/i.test(avatarId)) return new URL(avatarId, base).toString();
    const sdk = this.sdk;
    const cfg = sdk.configuration;
    // Default: avatars/ beside the SDK module itself (the layout of web/dist), or under the
    // configured Motion Server URL.
    const root = cfg?.avatarBaseUrl
      ? new URL(cfg.avatarBaseUrl.replace(/\/?$/, '/'), base)
      : cfg?.serverUrl
        ? new URL('avatars/', sdk.serverBase().replace(/\/?$/, '/'))
        : new URL('avatars/', import.meta.url);
    return new URL(`${encodeURIComponent(avatarId)}.glb`, root).toString();
  }

  /**
   * Loads an avatar by id (or URL). Progress: downloading (0..100) as bytes arrive, then
   * completed or failed. Concurrent and repeated loads of one id share one download.
   */
  load(avatarId: string | RegistryAvatarRequest, onProgress?: (p: LoadProgress) => void): Promise<Avatar> {
    if (isRegistryRequest(avatarId)) return this.loadFromRegistry(avatarId, onProgress);
    if (typeof avatarId !== 'string' || !avatarId) {
      const err = new AvatarKitError(ErrorCode.INVALID_ARGUMENT, 'avatarId must be a non-empty string');
      onProgress?.({ type: 'failed', error: err });
      return Promise.reject(err);
    }
    const url = this.resolveUrl(avatarId);
    return this.cached(url, () => this.fetchAvatar(avatarId, url, onProgress), onProgress);
  }

  /** One download per key: a cached (or in-flight) load reports completion or failure to this
   * caller's progress callback too; a failed load leaves the cache. */
  private cached(key: string, start: () => Promise<Avatar>, onProgress?: (p: LoadProgress) => void): Promise<Avatar> {
    let p = this.cache.get(key);
    if (!p) {
      p = start();
      this.cache.set(key, p);
      p.catch(() => this.cache.delete(key));
      return p;
    }
    return p.then(
      (a) => {
        onProgress?.({ type: 'completed', progress: 100 });
        return a;
      },
      (e: AvatarKitError) => {
        onProgress?.({ type: 'failed', error: e });
        throw e;
      },
    );
  }

  /**
   * Loads an avatar by id from a registry (the Motion Server's `/avatars/<id>/avatar.json`, or
   * a static copy with that layout): reads its metadata, then downloads the model it names.
   * Fails with AVATAR_LOAD_FAILED when the registry does not have the id.
   */
  private async loadFromRegistry(req: RegistryAvatarRequest, onProgress?: (p: LoadProgress) => void): Promise<Avatar> {
    let entry: AvatarEntry;
    try {
      entry = await fetchAvatarEntry(req.registryUrl, req.avatarId);
    } catch (e) {
      onProgress?.({ type: 'failed', error: e as AvatarKitError });
      throw e;
    }
    return this.cached(
      `registry:${entry.modelUrl}`,
      () => this.fetchAvatar(entry.id, entry.modelUrl, onProgress).then((a) => new Avatar(entry.id, a.url, a.data, entry)),
      onProgress,
    );
  }

  /** Registers an avatar from bytes the page already has (file picker, drag and drop). */
  loadFromData(avatarId: string, data: ArrayBuffer): Avatar {
    if (!(data instanceof ArrayBuffer) || data.byteLength < 12)
      throw new AvatarKitError(ErrorCode.INVALID_ARGUMENT, 'avatar data must be a glTF binary');
    const a = new Avatar(avatarId, `memory:${avatarId}`, data);
    this.cache.set(a.url, Promise.resolve(a));
    return a;
  }

  /** Forgets cached avatars (memory and Cache Storage). */
  async clearCache(): Promise<void> {
    this.cache.clear();
    if (typeof caches !== 'undefined') await caches.delete(CACHE_NAME).catch(() => false);
  }

  private async fetchAvatar(id: string, url: string, onProgress?: (p: LoadProgress) => void): Promise<Avatar> {
    const log = this.sdk.logger;
    const fail = (msg: string): never => {
      const err = new AvatarKitError(ErrorCode.AVATAR_LOAD_FAILED, msg);
      onProgress?.({ type: 'failed', error: err });
      throw err;
    };
    onProgress?.({ type: 'downloading', progress: 0 });
    let store: Cache | null = null;
    try {
      if (typeof caches !== 'undefined' && /^https?:/.test(url)) store = await caches.open(CACHE_NAME);
    } catch {
      store = null; // opaque origins and some private modes have no Cache Storage
    }
    let res: Response | undefined;
    try {
      res = (await store?.match(url)) ?? undefined;
      if (res) log.debug('avatar from cache', url);
    } catch {
      res = undefined;
    }
    const fromCache = !!res;
    if (!res) {
      try {
        res = await fetch(url);
      } catch (e) {
        return fail(`avatar ${id}: network error fetching ${url}: ${(e as Error).message}`);
      }
    }
    if (!res.ok) return fail(`avatar ${id}: HTTP ${res.status} for ${url}`);
    const total = Number(res.headers.get('content-length') ?? 0);
    if (total > MAX_AVATAR_BYTES) return fail(`avatar ${id}: ${total} bytes exceeds the limit`);
    const copy = !fromCache && store ? res.clone() : null;
    const chunks: Uint8Array[] = [];
    let got = 0;
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (e) {
          return fail(`avatar ${id}: download interrupted: ${(e as Error).message}`);
        }
        if (r.done) break;
        chunks.push(r.value);
        got += r.value.length;
        if (got > MAX_AVATAR_BYTES) return fail(`avatar ${id}: larger than ${MAX_AVATAR_BYTES} bytes`);
        if (total > 0) onProgress?.({ type: 'downloading', progress: Math.min(99, Math.floor((got * 100) / total)) });
      }
    } else {
      const b = new Uint8Array(await res.arrayBuffer());
      chunks.push(b);
      got = b.length;
    }
    const data = new Uint8Array(got);
    let o = 0;
    for (const c of chunks) {
      data.set(c, o);
      o += c.length;
    }
    const magic = data.length >= 4 ? String.fromCharCode(data[0], data[1], data[2], data[3]) : '';
    if (magic !== 'glTF') return fail(`avatar ${id}: ${url} is not a glTF binary (GLB)`);
    if (copy && store) void store.put(url, copy).catch(() => undefined);
    onProgress?.({ type: 'completed', progress: 100 });
    return new Avatar(id, url, data.buffer);
  }
}
