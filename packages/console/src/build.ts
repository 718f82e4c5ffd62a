import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONSOLE_WEB_DIR } from './index.js';

const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Written into the build: the hash of the sources it was built from. */
const STAMP = '.source-hash';

/** Every file the browser build reads (its sources, the vite config and the manifest), hashed. */
function sourceHash(): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir).sort()) {
      const full = path.join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else hash.update(path.relative(PACKAGE_DIR, full)).update('\0').update(readFileSync(full)).update('\0');
    }
  };
  walk(path.join(PACKAGE_DIR, 'web'));
  for (const file of ['vite.config.ts', 'package.json']) hash.update(readFileSync(path.join(PACKAGE_DIR, file)));
  return hash.digest('hex');
}

function builtHash(): string | undefined {
  try {
    return readFileSync(path.join(CONSOLE_WEB_DIR, STAMP), 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Builds the console's browser files (what `pnpm build` does) unless dist/web already holds a build of the
 * current sources, so tests never need a build first and pay for one only when the console changed. Safe
 * when several test files call it at once: each builds into a folder of its own, and the first to finish
 * moves it into place.
 */
export async function ensureConsoleBuilt(): Promise<{ built: boolean; dir: string }> {
  const wanted = sourceHash();
  if (builtHash() === wanted && existsSync(path.join(CONSOLE_WEB_DIR, 'index.html'))) return { built: false, dir: CONSOLE_WEB_DIR };
  const { build } = await import('vite');
  const staging = `${CONSOLE_WEB_DIR}.${process.pid}.${Date.now()}`;
  await build({ configFile: path.join(PACKAGE_DIR, 'vite.config.ts'), logLevel: 'warn', build: { outDir: staging, emptyOutDir: true } });
  writeFileSync(path.join(staging, STAMP), wanted);
  if (builtHash() === wanted) {
    rmSync(staging, { recursive: true, force: true }); // another process got there first
  } else {
    rmSync(CONSOLE_WEB_DIR, { recursive: true, force: true });
    try {
      renameSync(staging, CONSOLE_WEB_DIR);
    } catch (error) {
      rmSync(staging, { recursive: true, force: true });
      if (builtHash() !== wanted) throw error;
    }
  }
  return { built: true, dir: CONSOLE_WEB_DIR };
}
