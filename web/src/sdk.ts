/* AvatarSDK: one SDK configuration (app id, driving mode, PCM format, log level, server and
 * avatar URLs), the session token for sdk mode and the logger. `AvatarSDK` is a ready-made
 * instance most pages use; `new AvatarSDKImpl()` makes another. Nothing reads an instance
 * implicitly: pages hand it to AvatarManager and AvatarView. */

import type { DrivingServiceMode } from './controller.js';
import { AvatarKitError, ErrorCode } from './errors.js';
import { Logger, type LogLevel } from './log.js';

export const VERSION = '0.1.0';
/** PCM rates the Motion Server accepts for raw input (PROTOCOL.md section 4). */
export const ACCEPTED_SAMPLE_RATES = [8000, 16000, 22050, 24000, 32000, 44100, 48000] as const;

export interface AudioFormat {
  channelCount: 1;
  sampleRate: number;
}

export interface AvatarSDKConfiguration {
  /** 'host': your backend relays Messages (yieldMessage) or payloads (yieldAudioData /
   *  yieldFramesData); 'sdk': the browser talks to the Motion Server itself (start/send/close).
   *  Default 'host'. */
  drivingServiceMode?: DrivingServiceMode;
  /** Format of raw PCM you hand to the SDK. Default mono 16000 Hz. */
  audioFormat?: AudioFormat;
  logLevel?: LogLevel;
  /** Motion Server base URL (sdk mode, avatar assets). Default: the page's origin. */
  serverUrl?: string;
  /** Where avatars live: `${avatarBaseUrl}/${avatarId}.glb`. Default `${serverUrl}/avatars`. */
  avatarBaseUrl?: string;
}

interface ResolvedConfig {
  drivingServiceMode: DrivingServiceMode;
  audioFormat: AudioFormat;
  logLevel: LogLevel;
  serverUrl?: string;
  avatarBaseUrl?: string;
}

export class AvatarSDKImpl {
  readonly version = VERSION;
  readonly logger = new Logger();
  private _appId: string | null = null;
  private _config: ResolvedConfig | null = null;
  private _token = '';

  /** Validates and stores the configuration; must run before loading avatars. */
  async initialize(appId: string, configuration: AvatarSDKConfiguration = {}): Promise<void> {
    if (typeof appId !== 'string') throw new AvatarKitError(ErrorCode.INVALID_ARGUMENT, 'appId must be a string');
    const mode = configuration.drivingServiceMode ?? 'host';
    if (mode !== 'host' && mode !== 'sdk')
      throw new AvatarKitError(ErrorCode.INVALID_ARGUMENT, `drivingServiceMode must be 'host' or 'sdk'`);
    const fmt = configuration.audioFormat ?? { channelCount: 1, sampleRate: 16000 };
    if (fmt.channelCount !== 1)
      throw new AvatarKitError(ErrorCode.INVALID_ARGUMENT, 'only mono audio (channelCount 1) is supported');
    if (!(ACCEPTED_SAMPLE_RATES as readonly number[]).includes(fmt.sampleRate))
      throw new AvatarKitError(ErrorCode.UNSUPPORTED_SAMPLE_RATE,
        `unsupported sample rate ${fmt.sampleRate} (use one of ${ACCEPTED_SAMPLE_RATES.join(', ')})`);
    for (const k of ['serverUrl', 'avatarBaseUrl'] as const) {
      const v = configuration[k];
      if (v !== undefined) {
        try {
          new URL(v, typeof location !== 'undefined' ? location.href : 'http://localhost/');
        } catch {
          throw new AvatarKitError(ErrorCode.INVALID_ARGUMENT, `${k} is not a URL`);
        }
      }
    }
    this._appId = appId;
    this._config = {
      drivingServiceMode: mode,
      audioFormat: { channelCount: 1, sampleRate: fmt.sampleRate },
      logLevel: configuration.logLevel ?? 'warning',
      serverUrl: configuration.serverUrl,
      avatarBaseUrl: configuration.avatarBaseUrl,
    };
    this.logger.setLevel(this._config.logLevel);
    this.logger.info(`initialized v${VERSION}, mode ${mode}, ${fmt.sampleRate} Hz`);
  }

  /** True between initialize() and cleanup(). */
  isInitialized(): boolean {
    return this._config !== null;
  }
  get appId(): string | null {
    return this._appId;
  }
  get configuration(): Readonly<ResolvedConfig> | null {
    return this._config;
  }
  /** Session token for sdk mode (obtain it from your backend; never ship the API key). */
  setSessionToken(token: string): void {
    this._token = typeof token === 'string' ? token : '';
  }
  get sessionToken(): string {
    return this._token;
  }
  /** Forgets configuration and token; views already created keep working until disposed. */
  cleanup(): void {
    this._appId = null;
    this._config = null;
    this._token = '';
  }
  /** @internal */
  requireConfig(): ResolvedConfig {
    if (!this._config) throw new AvatarKitError(ErrorCode.NOT_INITIALIZED, 'call AvatarSDK.initialize() first');
    return this._config;
  }
  /** @internal Base URL resolution shared by the manager and sdk mode. */
  serverBase(): string {
    const c = this._config;
    if (c?.serverUrl) return new URL(c.serverUrl, typeof location !== 'undefined' ? location.href : undefined).toString();
    return typeof location !== 'undefined' ? location.origin : 'http://127.0.0.1/';
  }
}

/** The default SDK instance (also exported as AvatarKit for drop-in compatibility). */
export const AvatarSDK = new AvatarSDKImpl();
