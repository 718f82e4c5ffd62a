import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitFor } from '@lever-connect/testing';
import { Redis } from 'ioredis';
import pg from 'pg';

/**
 * Private Redis and Postgres servers for tests that flush, stop or restart them: the shared servers on
 * the standard ports are never disturbed.
 */
export interface OwnRedis {
  url: string;
  port: number;
  flushAll(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const ping = async () => {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => undefined);
    try {
      await r.connect();
      return (await r.ping()) === 'PONG';
    } finally {
      r.disconnect();
    }
  };
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    await waitFor(`redis-server on ${port}`, ping, { timeoutMs: 10_000, intervalMs: 50 });
  };
  await start();
  return {
    url,
    port,
    async flushAll() {
      const r = new Redis(url);
      await r.flushall();
      r.disconnect();
    },
    async stop() {
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
    start,
  };
}

export interface OwnPostgres {
  adminUrl: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

function pgBin(name: string): string {
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
    return path.join(dir, name);
  } catch {
    return name;
  }
}

/** initdb into a temp dir as user postgres (initdb refuses root), on a free port, trust auth. */
export async function startOwnPostgres(): Promise<OwnPostgres> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lc-pg-'));
  const data = path.join(dir, 'data');
  const asPostgres = (cmd: string, args: string[]) =>
    process.getuid?.() === 0 ? execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'pipe' }) : execFileSync(cmd, args, { stdio: 'pipe' });
  if (process.getuid?.() === 0) {
    const { uid, gid } = (() => {
      const line = execFileSync('id', ['postgres'], { encoding: 'utf8' });
      return { uid: Number(/uid=(\d+)/.exec(line)![1]), gid: Number(/gid=(\d+)/.exec(line)![1]) };
    })();
    chownSync(dir, uid, gid);
  }
  asPostgres(pgBin('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const adminUrl = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const start = async () => {
    asPostgres(pgBin('pg_ctl'), [
      '-D',
      data,
      '-l',
      path.join(dir, 'log'),
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
      '-w',
      'start',
    ]);
    await waitFor(
      `postgres on ${port}`,
      async () => {
        const c = new pg.Client({ connectionString: adminUrl });
        await c.connect();
        await c.end();
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
  };
  await start();
  const stop = async () => {
    try {
      asPostgres(pgBin('pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already stopped
    }
  };
  return {
    adminUrl,
    port,
    stop,
    start,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
