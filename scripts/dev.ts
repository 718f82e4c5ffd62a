// `pnpm dev`: everything on one machine with the Lever simulator as Lever. Installs nothing; creates a
// git-ignored .env with a fresh token-encryption key on first run, applies migrations, then runs
// lever-sim, api and worker from their TypeScript sources and prints the demo URL.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const envFile = path.join(root, '.env');

if (!existsSync(envFile)) {
  writeFileSync(envFile, '# Local development settings (git-ignored). See .env.example for every variable.\n');
}
if (!/^TOKEN_ENCRYPTION_KEY=/m.test(readFileSync(envFile, 'utf8'))) {
  appendFileSync(envFile, `TOKEN_ENCRYPTION_KEY=${randomBytes(32).toString('base64')}\n`);
  console.log('dev: generated TOKEN_ENCRYPTION_KEY into .env');
}
process.loadEnvFile(envFile);

const simPort = Number(process.env.SIM_PORT ?? 4010);
const apiPort = Number(process.env.PORT ?? 3000);
const workerPort = Number(process.env.WORKER_PORT ?? 3001);
const baseEnv = {
  ...process.env,
  NODE_ENV: process.env.NODE_ENV ?? 'development',
  LOG_FORMAT: process.env.LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json'),
  LEVER_SIMULATOR_URL: process.env.LEVER_SIMULATOR_URL ?? `http://127.0.0.1:${simPort}`,
};

function run(name: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
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
const migrated = await new Promise<number | null>((resolve) => migrate.on('exit', resolve));
if (migrated !== 0) {
  console.error('dev: migrations failed; is PostgreSQL reachable at DATABASE_URL? (docker compose up -d postgres redis)');
  process.exit(1);
}

const tsx = ['--conditions=source', '--import', 'tsx'];
const children = [
  run('lever-sim', [...tsx, 'apps/lever-sim/src/server.ts'], { ...baseEnv, PORT: String(simPort), LOG_LEVEL: 'warn' }),
  run('api', [...tsx, 'apps/api/src/server.ts'], { ...baseEnv, PORT: String(apiPort) }),
  run('worker', [...tsx, 'apps/worker/src/server.ts'], { ...baseEnv, PORT: String(workerPort) }),
];

const publicUrl = process.env.PUBLIC_BASE_URL ?? `http://localhost:${apiPort}`;
setTimeout(() => {
  console.log(`
  lever-connect is running with the Lever simulator as Lever.
    demo page:   ${publicUrl}/demo
    API docs:    ${publicUrl}/docs
    simulator:   http://127.0.0.1:${simPort}/__sim/stats
  Create an API key for the REST API with: pnpm cli api-key create --name me
`);
}, 2500).unref();

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  for (const child of children) child.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
for (const child of children) {
  child.on('exit', (code) => {
    if (!stopping) console.error(`dev: a process exited (code ${code}); stopping the others`);
    stop();
    if (children.every((c) => c.exitCode !== null || c.signalCode !== null)) process.exit(code ?? 0);
  });
}
