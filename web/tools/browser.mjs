// Launches Debian's headless Chromium through playwright-core with the flags that work on
// this machine (SwiftShader WebGL, autoplay allowed, fresh profile).
import { chromium } from 'playwright-core';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const hasChromium = () => existsSync(CHROMIUM);

export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), 'ak-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: Number(process.env.AK_VIEWPORT ?? 480), height: Number(process.env.AK_VIEWPORT ?? 480) },
    args: [
      '--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
      '--autoplay-policy=no-user-gesture-required', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
    ],
  });
  const close = async () => {
    await ctx.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
  };
  return { ctx, close };
}
