import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './misc.js';

/** The repository's root: child processes run from here, and entries are paths relative to it. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const LOG_DIR = path.join(ROOT, 'test-artifacts', 'logs');

/**
 * The apps' entry points, relative to ROOT. Spawned by path, never imported: this package must not depend
 * on an app (the apps' tests depend on it).
 */
export const APP_ENTRIES = {
  api: 'apps/api/src/server.ts',
  worker: 'apps/worker/src/server.ts',
  'lever-sim': 'apps/lever-sim/src/server.ts',
} as const;

export interface ManagedProcess {
  name: string;
  url: string;
  child: ChildProcess;
  logFile: string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

/**
 * Runs one of our apps from its TypeScript sources as a real child process (tsx, `source` export
 * condition), logging to test-artifacts/logs, and waits until its health URL answers.
 */
export async function startApp(options: {
  name: string;
  entry: string;
  port: number;
  env: Record<string, string>;
  healthPath?: string;
  timeoutMs?: number;
}): Promise<ManagedProcess> {
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = path.join(LOG_DIR, `${options.name}-${options.port}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', path.join(ROOT, options.entry)],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env, PORT: String(options.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${options.port}`;
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  // A process that exits ends the wait at once (waitFor retries on a thrown error, until its timeout).
  const answered = await waitFor(
    `${options.name} to answer on ${url}`,
    async () => {
      if (exitCode !== undefined) return 'exited';
      const res = await fetch(url + (options.healthPath ?? '/healthz')).catch(() => undefined);
      return res?.ok && 'answered';
    },
    { timeoutMs: options.timeoutMs ?? 30_000, intervalMs: 100 },
  ).catch((error: unknown) => {
    // Never answered: the caller gets no handle to stop it, so it must not outlive the failure.
    child.kill('SIGKILL');
    throw error;
  });
  if (answered === 'exited') throw new Error(`${options.name} exited early (code ${exitCode}); see ${logFile}`);
  return {
    name: options.name,
    url,
    child,
    logFile,
    exited,
    async stop(signal = 'SIGTERM', timeoutMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
