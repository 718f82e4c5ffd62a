import { existsSync } from 'node:fs';

/** Debian's Chromium: the one browser the browser tests drive (nothing downloads a browser). */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Fails a browser test file at once, in one sentence saying how to install the browser, when Chromium is
 * missing (never a skip; `pnpm test` installs it by itself when run as root, see scripts/preflight.ts).
 */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: install it as root (apt-get update && apt-get install -y chromium) to run the browser tests`);
  }
}
