// `pnpm dev`: everything on one machine with the Lever simulator as Lever. Installs nothing; gives the
// git-ignored .env a fresh token-encryption key when it has none (or an empty one, as a copied .env.example
// has) and LEVER_ENV=simulator when it names no mode, applies migrations, runs lever-sim, api and worker from their TypeScript sources, and prints the
// demo URL once the api answers.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isSet, mergeEnvFile, setIfUnset } from './lib/env-file.ts';
import { waitForUrl } from './lib/wait-for-url.ts';

const API_START_TIMEOUT_MS = 60_000;
const MIGRATE_TIMEOUT_MS = 120_000;
// Longer than the worker's own shutdown grace (60 s, for refreshes in flight): a token Lever has already
// rotated must reach Postgres before the process goes.
const STOP_TIMEOUT_MS = 70_000;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const envFile = path.join(root, '.env');

if (!existsSync(envFile)) {
  writeFileSync(envFile, '# Local development settings (git-ignored). See .env.example for every variable.\n');
}
// A key exported in the shell wins over .env's, so there is nothing to write then.
if (!isSet(process.env.TOKEN_ENCRYPTION_KEY)) {
  const { content, changed } = setIfUnset(readFileSync(envFile, 'utf8'), 'TOKEN_ENCRYPTION_KEY', randomBytes(32).toString('base64'));
  if (changed) {
    writeFileSync(envFile, content);
    console.log('dev: generated TOKEN_ENCRYPTION_KEY into .env');
  }
}
// Simulator mode is never a default of the product (live Lever is): pnpm dev chooses it, in .env, so that
// `pnpm cli` (which reads the same .env) works against the same setup. A .env saying LEVER_ENV=live stays.
if (!isSet(process.env.LEVER_ENV)) {
  const { content, changed } = setIfUnset(readFileSync(envFile, 'utf8'), 'LEVER_ENV', 'simulator');
  if (changed) {
    writeFileSync(envFile, content);
    console.log('dev: set LEVER_ENV=simulator in .env (the bundled Lever simulator; see .env.example for live Lever)');
  }
}
mergeEnvFile(process.env, readFileSync(envFile, 'utf8'));

/** A variable's value, with `VAR=` counting as unset (packages/config reads it the same way). */
const setting = (name: string): string | undefined => (isSet(process.env[name]) ? process.env[name] : undefined);

const simPort = Number(setting('SIM_PORT') ?? 4010);
const apiPort = Number(setting('PORT') ?? 3000);
const workerPort = Number(setting('WORKER_PORT') ?? 3001);
const baseEnv = {
  ...process.env,
  NODE_ENV: setting('NODE_ENV') ?? 'development',
  LOG_FORMAT: setting('LOG_FORMAT') ?? (process.stdout.isTTY ? 'pretty' : 'json'),
  LEVER_SIMULATOR_URL: setting('LEVER_SIMULATOR_URL') ?? `http://127.0.0.1:${simPort}`,
  // Development against the simulator over http, demo page on: every one of these is off by default, and
  // a .env can still say otherwise (LEVER_ENV=live with real credentials, for one).
  LEVER_ENV: setting('LEVER_ENV') ?? 'simulator',
  DEMO_ENABLED: setting('DEMO_ENABLED') ?? 'true',
  ALLOW_INSECURE_DEV: setting('ALLOW_INSECURE_DEV') ?? 'true',
};

/**
 * Each app leads its own process group, so a Ctrl-C in the terminal reaches only this script, which then
 * sends each app one SIGTERM: close-with-grace treats a second signal as "exit now", and the worker would
 * drop the refreshes it is finishing.
 */
function run(name: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const prefix = `[${name}] `;
  const pipe = (stream: NodeJS.ReadableStream, out: NodeJS.WriteStream) => {
    let buffered = '';
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) out.write(prefix + line + '\n');
    });
  };
  pipe(child.stdout!, process.stdout);
  pipe(child.stderr!, process.stderr);
  return child;
}

const migrate = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/db-migrate.ts')], {
  cwd: root,
  env: baseEnv,
  stdio: 'inherit',
});
const migrateTimer = setTimeout(() => {
  console.error(`dev: migrations did not finish within ${MIGRATE_TIMEOUT_MS / 1000} s`);
  migrate.kill('SIGKILL');
}, MIGRATE_TIMEOUT_MS);
const migrated = await new Promise<number | null>((resolve) => migrate.on('exit', resolve));
clearTimeout(migrateTimer);
if (migrated !== 0) {
  console.error('dev: migrations failed; is PostgreSQL reachable at DATABASE_URL? (docker compose up -d postgres redis)');
  process.exit(1);
}

const tsx = ['--conditions=source', '--import', 'tsx'];
const apps = [
  { name: 'lever-sim', child: run('lever-sim', [...tsx, 'apps/lever-sim/src/server.ts'], { ...baseEnv, PORT: String(simPort), LOG_LEVEL: 'warn' }) },
  { name: 'api', child: run('api', [...tsx, 'apps/api/src/server.ts'], { ...baseEnv, PORT: String(apiPort) }) },
  { name: 'worker', child: run('worker', [...tsx, 'apps/worker/src/server.ts'], { ...baseEnv, PORT: String(workerPort) }) },
];
const children = apps.map((app) => app.child);

let stopping = false;
let exitCode = 0;
const hasExited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;
function stop(code: number) {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  for (const child of children) child.kill('SIGTERM');
  setTimeout(() => {
    for (const child of children) if (!hasExited(child)) child.kill('SIGKILL');
  }, STOP_TIMEOUT_MS).unref();
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop(0));
// Detached apps outlive this script unless it takes them along (say, after a crash of its own).
process.on('exit', () => {
  for (const child of children) if (!hasExited(child)) child.kill('SIGKILL');
});
for (const { name, child } of apps) {
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`dev: ${name} exited (${signal ?? `code ${code}`}); stopping the others`);
      stop(1);
    }
    if (children.every(hasExited)) process.exit(exitCode);
  });
}

// Ask the api itself (not PUBLIC_BASE_URL, which may be a proxy or tunnel in front of it).
const listenHost = setting('HOST') ?? '127.0.0.1';
const probeHost = ['0.0.0.0', '::'].includes(listenHost) ? '127.0.0.1' : listenHost.includes(':') ? `[${listenHost}]` : listenHost;
const healthUrl = `http://${probeHost}:${apiPort}/healthz`;
const answered = await waitForUrl(healthUrl, { timeoutMs: API_START_TIMEOUT_MS, shouldGiveUp: () => stopping });
if (!answered) {
  if (!stopping) {
    console.error(`dev: the api did not answer ${healthUrl} within ${API_START_TIMEOUT_MS / 1000} s; stopping`);
    stop(1);
  }
} else {
  const publicUrl = setting('PUBLIC_BASE_URL')?.replace(/\/$/, '') ?? `http://localhost:${apiPort}`;
  console.log(`
  lever-connect is running with the Lever simulator as Lever.
    demo page:   ${publicUrl}/demo
    API docs:    ${publicUrl}/docs
    simulator:   http://127.0.0.1:${simPort}/__sim/stats
  Create an API key for the REST API with: pnpm cli api-key create --name me
`);
}
