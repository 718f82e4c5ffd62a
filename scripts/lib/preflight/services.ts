import path from 'node:path';
import { isSet } from '../env-file.ts';
import { findOnPath, findPostgresBinDir } from './executables.ts';
import { startPostgres } from './postgres.ts';
import { freePort, probePostgres, probeRedis, type ProbeResult } from './probe.ts';
import { startRedis } from './redis.ts';
import { PreflightError, type StartedServer } from './types.ts';

export type ServiceKind = 'postgres' | 'redis';

/** A server the command needs: which kind, the variable naming its URL, and that variable's default. */
export interface ServiceTarget {
  kind: ServiceKind;
  variable: string;
  fallback: string;
}

export interface EnsureOptions {
  /** Where the variables are read (the shell's, with .env's under them where the command reads .env). */
  env: NodeJS.ProcessEnv;
  /** The git-ignored folder private servers keep their data and logs in (<dataDir>/<kind>). */
  dataDir: string;
  /** Where to look for redis-server, initdb and pg_ctl (default env's PATH, else this process's). */
  pathEnv?: string;
  /** Where PostgreSQL versions are installed when initdb is not on PATH (default /usr/lib/postgresql). */
  postgresRoot?: string;
  /** One line per server started. */
  log: (line: string) => void;
}

export interface EnsureResult {
  /** Variables to hand the command: set when the private server had to take another port. */
  overrides: Record<string, string>;
  server?: StartedServer;
}

const KINDS = {
  postgres: { name: 'PostgreSQL', defaultPort: 5432, probe: probePostgres, binaries: 'initdb and pg_ctl', install: 'postgresql', compose: 'postgres' },
  redis: { name: 'Redis', defaultPort: 6379, probe: probeRedis, binaries: 'redis-server', install: 'redis-server', compose: 'redis' },
} satisfies Record<ServiceKind, { name: string; defaultPort: number; probe: (host: string, port: number) => Promise<ProbeResult>; binaries: string; install: string; compose: string }>;

const LOOPBACK: Record<string, string> = { '127.0.0.1': '127.0.0.1', localhost: '127.0.0.1', '::1': '::1' };

/**
 * Makes sure the server `target` names answers: nothing to do when it does; when nothing answers at a
 * loopback address and the server's programs are installed, starts a private one there (or, when another
 * program holds that port, at a free one, returning the variable's new value); otherwise a PreflightError
 * saying what to start.
 */
export async function ensureService(target: ServiceTarget, options: EnsureOptions): Promise<EnsureResult> {
  const kind = KINDS[target.kind];
  const configured = isSet(options.env[target.variable]) ? options.env[target.variable]! : target.fallback;
  let url: URL;
  try {
    url = new URL(configured);
  } catch {
    throw new PreflightError(`${target.variable} is not a URL`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(url.port) || kind.defaultPort;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;

  const found = await kind.probe(host, port);
  if (found === 'answers') return { overrides: {} };

  const listenHost = LOOPBACK[host];
  if (!listenHost) {
    throw new PreflightError(`${kind.name} does not answer at ${where} (${target.variable}): start it there, or point ${target.variable} at one that runs`);
  }
  const pathEnv = options.pathEnv ?? options.env.PATH ?? process.env.PATH;
  const redisServer = target.kind === 'redis' ? findOnPath('redis-server', pathEnv) : undefined;
  const postgresBin = target.kind === 'postgres' ? findPostgresBinDir(pathEnv, options.postgresRoot) : undefined;
  if (!redisServer && !postgresBin) {
    throw new PreflightError(
      `${kind.name} does not answer at ${where} (${target.variable}) and ${kind.binaries} ${target.kind === 'redis' ? 'is' : 'are'} not installed here: ` +
        `start ${kind.name} there (docker compose up -d ${kind.compose}) or install it (apt-get install ${kind.install}) so that this command can start a private one`,
    );
  }

  const privatePort = found === 'nothing' ? port : await freePort(listenHost);
  const dir = path.join(options.dataDir, target.kind);
  const server = redisServer
    ? await startRedis({ binary: redisServer, host: listenHost, port: privatePort, dir, ...(url.password ? { password: decodeURIComponent(url.password) } : {}) })
    : await startPostgres({ binDir: postgresBin!, host: listenHost, port: privatePort, dir, user: decodeURIComponent(url.username) || 'postgres', ...(pathEnv ? { pathEnv } : {}) });

  const overrides: Record<string, string> = {};
  const at = `${listenHost.includes(':') ? `[${listenHost}]` : listenHost}:${privatePort}`;
  if (privatePort !== port) {
    url.port = String(privatePort);
    overrides[target.variable] = url.toString();
    options.log(`preflight: another program holds ${where} (${target.variable}), so a private ${kind.name} runs at ${at} for this command (log: ${server.log}) and ${target.variable} points there`);
  } else {
    options.log(`preflight: nothing answered at ${where} (${target.variable}), so a private ${kind.name} runs there for this command (log: ${server.log})`);
  }
  return { overrides, server };
}
