import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Debian's Chromium, the one browser the browser tests drive (nothing downloads a browser). */
export const CHROMIUM = '/usr/bin/chromium';

function aptInstallChromium(): number | null {
  return spawnSync('sh', ['-c', 'apt-get update && apt-get install -y chromium'], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  }).status;
}

/**
 * Installs Chromium with apt-get when it is missing and we are root. Otherwise it only says so: the browser
 * tests then fail with a sentence of their own, and every other test still runs.
 */
export function ensureChromium(options: { executable?: string; isRoot?: boolean; install?: () => number | null; log: (line: string) => void }): void {
  const executable = options.executable ?? CHROMIUM;
  if (existsSync(executable)) return;
  const howTo = 'apt-get update && apt-get install -y chromium';
  if (!(options.isRoot ?? process.getuid?.() === 0)) {
    options.log(`preflight: Chromium is missing at ${executable}, so the browser tests will fail: install it as root (${howTo})`);
    return;
  }
  options.log(`preflight: Chromium is missing at ${executable}; installing it for the browser tests (${howTo})`);
  const status = (options.install ?? aptInstallChromium)();
  if (status !== 0 || !existsSync(executable)) {
    options.log(`preflight: Chromium could not be installed (exit ${status}), so the browser tests will fail: install it yourself (${howTo})`);
  }
}
