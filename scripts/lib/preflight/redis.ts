import { spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { probeRedis, waitUntilAnswers } from './probe.ts';
import { PreflightError, type StartedServer } from './types.ts';

const START_TIMEOUT_MS = 15_000;

/**
 * A redis-server of our own on host:port, in memory only (Redis holds nothing that is not rebuilt from
 * Postgres), with its log under `dir`. Its own process group, so a Ctrl-C in the terminal leaves it to us:
 * the worker still needs it while it finishes its refreshes.
 */
export async function startRedis(options: { binary: string; host: string; port: number; dir: string; password?: string }): Promise<StartedServer> {
  mkdirSync(options.dir, { recursive: true });
  const log = path.join(options.dir, 'redis.log');
  const args = ['--bind', options.host, '--port', String(options.port), '--save', '', '--appendonly', 'no', '--dir', options.dir, '--daemonize', 'no'];
  if (options.password) args.push('--requirepass', options.password);
  const out = openSync(log, 'a');
  const child = spawn(options.binary, args, { detached: true, stdio: ['ignore', out, out] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => undefined);
  const ready = await Promise.race([waitUntilAnswers(() => probeRedis(options.host, options.port, 500), START_TIMEOUT_MS), exited.then(() => false)]);
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  if (!ready) {
    stop();
    throw new PreflightError(`redis-server did not start on ${options.host}:${options.port}: see ${log}`);
  }
  return { log, stop, stopped: exited };
}
