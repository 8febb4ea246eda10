/* Leveled console logger shared by one SDK instance. */

export type LogLevel = 'off' | 'error' | 'warning' | 'info' | 'debug' | 'basic' | 'all';

const rank: Record<string, number> = { off: 0, error: 1, warning: 2, basic: 3, info: 3, debug: 4, all: 4 };

export class Logger {
  private level = 2;
  setLevel(l: LogLevel | undefined): void {
    this.level = rank[l ?? 'warning'] ?? 2;
  }
  error(...a: unknown[]): void {
    if (this.level >= 1) console.error('[avatarkit]', ...a);
  }
  warn(...a: unknown[]): void {
    if (this.level >= 2) console.warn('[avatarkit]', ...a);
  }
  info(...a: unknown[]): void {
    if (this.level >= 3) console.info('[avatarkit]', ...a);
  }
  debug(...a: unknown[]): void {
    if (this.level >= 4) console.debug('[avatarkit]', ...a);
  }
}
