// `tsx scripts/preflight.ts --for=dev|test -- <command...>`: what `pnpm dev` and `pnpm test` run first, so
// that the README's two commands work on a fresh machine. For each server the command needs (PostgreSQL and
// Redis) it checks that something answers at the configured address; when nothing does and the server's
// programs are installed, it starts a private one (data and log under the git-ignored .data/) for as long as
// the command runs, and says so in one line; otherwise it stops with one sentence naming what to start.
// `--for=test` also sees to Chromium for the browser tests. Then it runs the command, and stops what it
// started once the command has ended.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mergeEnvFile } from './lib/env-file.ts';
import { ensureChromium } from './lib/preflight/chromium.ts';
import { ensureService, type ServiceTarget } from './lib/preflight/services.ts';
import { PreflightError, type StartedServer } from './lib/preflight/types.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * dev: the variables the apps read (the shell's, then .env's, as scripts/dev.ts merges them). test: the
 * ones the tests read (packages/testing: TEST_DATABASE_ADMIN_URL, TEST_REDIS_URL; never .env).
 */
const TARGETS: Record<'dev' | 'test', ServiceTarget[]> = {
  dev: [
    { kind: 'postgres', variable: 'DATABASE_URL', fallback: 'postgresql://postgres@127.0.0.1:5432/lever_connect' },
    { kind: 'redis', variable: 'REDIS_URL', fallback: 'redis://127.0.0.1:6379' },
  ],
  test: [
    { kind: 'postgres', variable: 'TEST_DATABASE_ADMIN_URL', fallback: 'postgresql://postgres@127.0.0.1:5432/postgres' },
    { kind: 'redis', variable: 'TEST_REDIS_URL', fallback: 'redis://127.0.0.1:6379' },
  ],
};

const separator = process.argv.indexOf('--');
const mode = process.argv.slice(2, separator < 0 ? undefined : separator).find((arg) => arg.startsWith('--for='))?.slice('--for='.length);
const command = separator < 0 ? [] : process.argv.slice(separator + 1);
if ((mode !== 'dev' && mode !== 'test') || command.length === 0) {
  console.error('usage: tsx scripts/preflight.ts --for=dev|test -- <command> [args...]');
  process.exit(2);
}

const STOP_WAIT_MS = 10_000;
const started: StartedServer[] = [];
let stoppedAll = false;
function stopAll(): Promise<unknown> {
  if (stoppedAll) return Promise.resolve();
  stoppedAll = true;
  const servers = started.splice(0).reverse();
  for (const server of servers) server.stop();
  return Promise.all(servers.map((server) => server.stopped));
}
// However this process ends, what it started does not outlive it.
process.on('exit', () => void stopAll());

/** The command, once it runs. */
const running: { child?: ChildProcess } = {};
// The command decides what a signal means (dev.ts lets the worker finish its refreshes); the servers stay
// up until it has exited. A Ctrl-C in the terminal reaches the command by itself; passing it on again is
// harmless, and it is how a signal sent to this process alone gets there.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (running.child) running.child.kill(signal);
    else process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
  });
}

const env: NodeJS.ProcessEnv = { ...process.env };
const envFile = path.join(root, '.env');
if (mode === 'dev' && existsSync(envFile)) mergeEnvFile(env, readFileSync(envFile, 'utf8'));
const overrides: Record<string, string> = {};
const log = (line: string) => console.log(line);
try {
  for (const target of TARGETS[mode]) {
    const result = await ensureService(target, { env, dataDir: path.join(root, '.data'), log });
    if (result.server) started.push(result.server);
    Object.assign(overrides, result.overrides);
  }
  if (mode === 'test') ensureChromium({ log });
} catch (error) {
  if (!(error instanceof PreflightError)) throw error;
  console.error(`preflight: ${error.message}.`);
  process.exit(1);
}

const child = spawn(command[0]!, command.slice(1), { cwd: process.cwd(), env: { ...process.env, ...overrides }, stdio: 'inherit' });
running.child = child;
child.on('error', (error) => {
  console.error(`preflight: could not run ${command[0]}: ${error.message}.`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  const gone = stopAll();
  // Gone before this command returns, so the next one finds the port free.
  void Promise.race([gone, new Promise((resolve) => setTimeout(resolve, STOP_WAIT_MS))]).then(() =>
    process.exit(code ?? 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGKILL' ? 9 : 15)),
  );
});
