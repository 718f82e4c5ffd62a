// The preflight of `pnpm dev` and `pnpm test` (scripts/preflight.ts): private servers on addresses where
// nothing listens, never the shared ones; one sentence when a server can be neither found nor started.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, ROOT, TEST_REDIS_URL, ADMIN_DATABASE_URL } from '@lever-connect/testing';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureChromium } from '../../scripts/lib/preflight/chromium.ts';
import { findPostgresBinDir } from '../../scripts/lib/preflight/executables.ts';
import { probePostgres, probeRedis } from '../../scripts/lib/preflight/probe.ts';
import { ensureService, type EnsureOptions } from '../../scripts/lib/preflight/services.ts';
import { PreflightError, type StartedServer } from '../../scripts/lib/preflight/types.ts';

const REDIS_SERVER_DIR = path.dirname(spawnPath('redis-server'));
/** A PATH with node's directory only: no redis-server, no initdb. */
const BARE_PATH = path.dirname(process.execPath);

function spawnPath(name: string): string {
  const dir = process.env.PATH!.split(path.delimiter).find((d) => existsSync(path.join(d, name)));
  if (!dir) throw new Error(`${name} is not on PATH: the preflight tests start a private one`);
  return path.join(dir, name);
}

/** A listener that accepts connections and answers nothing a server would: "another program". */
async function squatter(): Promise<{ port: number; close: () => Promise<void> }> {
  // It reads what it is sent (so it sees the client go away) and answers in a protocol of its own.
  const server = net.createServer((socket) => socket.resume().end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A sentence: no line breaks, no stack, no full stop inside (the CLI adds the one at the end). */
function expectOneSentence(message: string) {
  expect(message).not.toMatch(/\n|\bat .+:\d+:\d+|\.\s/);
}

let dataDir: string;
const started: StartedServer[] = [];
const lines: string[] = [];
const options = (env: NodeJS.ProcessEnv, extra: Partial<EnsureOptions> = {}): EnsureOptions => ({ env, dataDir, log: (line) => lines.push(line), ...extra });

beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'lever-connect-preflight-'));
  // Reachable by the postgres account (mkdtemp makes it 0700), as a checkout's .data/ is.
  chmodSync(dataDir, 0o755);
});
afterEach(async () => {
  for (const server of started.splice(0)) {
    server.stop();
    await server.stopped;
  }
  lines.length = 0;
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('ensureService with Redis', () => {
  it('does nothing where Redis answers (the shared server is only pinged)', async () => {
    const result = await ensureService({ kind: 'redis', variable: 'REDIS_URL', fallback: TEST_REDIS_URL }, options({}));
    expect(result).toEqual({ overrides: {} });
    expect(lines).toEqual([]);
  });

  it('starts a private redis-server where nothing listens, says so in one line, and stops it', async () => {
    const port = await freePort();
    const result = await ensureService({ kind: 'redis', variable: 'REDIS_URL', fallback: 'redis://127.0.0.1:6379' }, options({ REDIS_URL: `redis://127.0.0.1:${port}` }));
    started.push(result.server!);

    expect(await probeRedis('127.0.0.1', port)).toBe('answers');
    expect(result.overrides).toEqual({});
    expect(lines).toEqual([`preflight: nothing answered at 127.0.0.1:${port} (REDIS_URL), so a private Redis runs there for this command (log: ${path.join(dataDir, 'redis', 'redis.log')})`]);

    result.server!.stop();
    await result.server!.stopped;
    expect(await probeRedis('127.0.0.1', port)).toBe('nothing');
  });

  it('takes a free port when another program holds the configured one, and hands the command the new URL', async () => {
    const other = await squatter();
    try {
      const result = await ensureService(
        { kind: 'redis', variable: 'TEST_REDIS_URL', fallback: 'redis://127.0.0.1:6379' },
        options({ TEST_REDIS_URL: `redis://127.0.0.1:${other.port}/2` }),
      );
      started.push(result.server!);
      const moved = new URL(result.overrides.TEST_REDIS_URL!);
      expect(Number(moved.port)).not.toBe(other.port);
      expect(moved.pathname).toBe('/2');
      expect(await probeRedis('127.0.0.1', Number(moved.port))).toBe('answers');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`another program holds 127.0.0.1:${other.port} (TEST_REDIS_URL), so a private Redis runs at 127.0.0.1:${moved.port}`);
    } finally {
      await other.close();
    }
  });

  it('fails with one sentence naming what to start when redis-server is not installed', async () => {
    const port = await freePort();
    const attempt = ensureService({ kind: 'redis', variable: 'REDIS_URL', fallback: '' }, options({ REDIS_URL: `redis://127.0.0.1:${port}` }, { pathEnv: BARE_PATH }));
    const error = await attempt.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PreflightError);
    const { message } = error as PreflightError;
    expect(message).toBe(
      `Redis does not answer at 127.0.0.1:${port} (REDIS_URL) and redis-server is not installed here: start Redis there (docker compose up -d redis) or install it (apt-get install redis-server) so that this command can start a private one`,
    );
    expectOneSentence(message);
    expect(await probeRedis('127.0.0.1', port)).toBe('nothing');
  });

  it('never starts anything for an address off this machine', async () => {
    const error = await ensureService(
      { kind: 'redis', variable: 'REDIS_URL', fallback: '' },
      options({ REDIS_URL: 'redis://cache.invalid:6379' }, { pathEnv: REDIS_SERVER_DIR }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PreflightError);
    expect((error as Error).message).toBe('Redis does not answer at cache.invalid:6379 (REDIS_URL): start it there, or point REDIS_URL at one that runs');
  });
});

describe('ensureService with PostgreSQL', () => {
  it('does nothing where PostgreSQL answers (the shared server is only asked whether it speaks TLS)', async () => {
    const result = await ensureService({ kind: 'postgres', variable: 'TEST_DATABASE_ADMIN_URL', fallback: ADMIN_DATABASE_URL }, options({}));
    expect(result).toEqual({ overrides: {} });
    expect(lines).toEqual([]);
  });

  it('creates and starts a private cluster where nothing listens (as the postgres account when root), with trust for the URL\'s user', async () => {
    expect(findPostgresBinDir(process.env.PATH), 'the machine has PostgreSQL installed').toBeDefined();
    const port = await freePort();
    const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
    const result = await ensureService({ kind: 'postgres', variable: 'DATABASE_URL', fallback: '' }, options({ DATABASE_URL: url }));
    started.push(result.server!);
    expect(result.overrides).toEqual({});
    expect(lines).toEqual([`preflight: nothing answered at 127.0.0.1:${port} (DATABASE_URL), so a private PostgreSQL runs there for this command (log: ${path.join(dataDir, 'postgres', 'server.log')})`]);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ user: string; port: string; dir: string }>(
        "SELECT current_user AS user, current_setting('port') AS port, current_setting('data_directory') AS dir",
      );
      expect(rows).toMatchObject([{ user: 'postgres', port: String(port) }]);
      // The data directory's owner is the account the server runs as (PostgreSQL insists on it): never root.
      expect(execFileSync('stat', ['-c', '%U', rows[0]!.dir], { encoding: 'utf8' }).trim()).not.toBe('root');
    } finally {
      await client.end();
    }

    result.server!.stop();
    await result.server!.stopped;
    expect(await probePostgres('127.0.0.1', port)).toBe('nothing');
  }, 60_000);

  it('fails with one sentence when neither PATH nor the versions folder has initdb and pg_ctl', async () => {
    const port = await freePort();
    const empty = path.join(dataDir, 'no-postgresql-here');
    mkdirSync(empty, { recursive: true });
    const error = await ensureService(
      { kind: 'postgres', variable: 'DATABASE_URL', fallback: '' },
      options({ DATABASE_URL: `postgresql://postgres@localhost:${port}/lever_connect` }, { pathEnv: BARE_PATH, postgresRoot: empty }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PreflightError);
    const { message } = error as Error;
    expect(message).toBe(
      `PostgreSQL does not answer at localhost:${port} (DATABASE_URL) and initdb and pg_ctl are not installed here: start PostgreSQL there (docker compose up -d postgres) or install it (apt-get install postgresql) so that this command can start a private one`,
    );
    expectOneSentence(message);
  });
});

describe('ensureChromium', () => {
  it('says in one line how to install a missing Chromium when it cannot install it itself', () => {
    const logged: string[] = [];
    let installs = 0;
    ensureChromium({ executable: path.join(dataDir, 'no-chromium'), isRoot: false, install: () => ++installs, log: (line) => logged.push(line) });
    expect(installs).toBe(0);
    expect(logged).toEqual([
      `preflight: Chromium is missing at ${path.join(dataDir, 'no-chromium')}, so the browser tests will fail: install it as root (apt-get update && apt-get install -y chromium)`,
    ]);
  });

  it('installs it as root, and says so when the install did not produce it', () => {
    const executable = path.join(dataDir, 'chromium');
    const logged: string[] = [];
    ensureChromium({ executable, isRoot: true, install: () => (writeFileSync(executable, ''), 0), log: (line) => logged.push(line) });
    expect(logged).toEqual([`preflight: Chromium is missing at ${executable}; installing it for the browser tests (apt-get update && apt-get install -y chromium)`]);

    logged.length = 0;
    ensureChromium({ executable, isRoot: true, install: () => 0, log: (line) => logged.push(line) });
    expect(logged).toEqual([]);

    ensureChromium({ executable: `${executable}-2`, isRoot: true, install: () => 100, log: (line) => logged.push(line) });
    expect(logged[1]).toBe('preflight: Chromium could not be installed (exit 100), so the browser tests will fail: install it yourself (apt-get update && apt-get install -y chromium)');
  });
});

describe('scripts/preflight.ts', () => {
  function runPreflight(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/preflight.ts'), ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  }

  it('stops before the command with one sentence and no stack trace when a server can be neither found nor started', async () => {
    const port = await freePort();
    const { code, stdout, stderr } = await runPreflight(['--for=test', '--', process.execPath, '-e', 'console.log("ran")'], {
      PATH: BARE_PATH,
      TEST_REDIS_URL: `redis://127.0.0.1:${port}`,
    });
    expect(code).toBe(1);
    expect(stdout).not.toContain('ran');
    expect(stderr).toBe(
      `preflight: Redis does not answer at 127.0.0.1:${port} (TEST_REDIS_URL) and redis-server is not installed here: start Redis there (docker compose up -d redis) or install it (apt-get install redis-server) so that this command can start a private one.\n`,
    );
  });

  it('hands the command the private server\'s URL, passes its exit code on, and stops the server after it', async () => {
    const other = await squatter();
    try {
      const { code, stdout } = await runPreflight(['--for=dev', '--', process.execPath, '-e', 'console.log("url=" + process.env.REDIS_URL); process.exit(7)'], {
        ...process.env,
        REDIS_URL: `redis://127.0.0.1:${other.port}`,
        DATABASE_URL: ADMIN_DATABASE_URL,
      });
      expect(code).toBe(7);
      const [preflightLine, urlLine] = stdout.trim().split('\n');
      expect(preflightLine).toContain(`another program holds 127.0.0.1:${other.port} (REDIS_URL), so a private Redis runs at`);
      const moved = new URL(urlLine!.replace(/^url=/, ''));
      expect(Number(moved.port)).not.toBe(other.port);
      expect(await probeRedis('127.0.0.1', Number(moved.port))).toBe('nothing');
    } finally {
      await other.close();
    }
  });
});
