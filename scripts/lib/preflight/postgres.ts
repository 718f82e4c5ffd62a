import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findOnPath } from './executables.ts';
import { probePostgres, waitUntilAnswers } from './probe.ts';
import { PreflightError, type StartedServer } from './types.ts';

const START_TIMEOUT_S = 30;
/** The operating-system account PostgreSQL runs as when we are root (initdb and postgres refuse root). */
const OS_USER = 'postgres';

interface Runner {
  /** The command line that runs `command args` as the account PostgreSQL runs as. */
  wrap: (command: string, args: string[]) => [string, string[]];
  /** Whether that account can write `dir`. */
  canWrite: (dir: string) => boolean;
  /** Gives `dir` (recursively) to that account. */
  own: (dir: string) => void;
}

const quote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;

function runner(pathEnv: string | undefined): Runner {
  if (process.getuid?.() !== 0) {
    return { wrap: (command, args) => [command, args], canWrite: () => true, own: () => undefined };
  }
  if (spawnSync('id', ['-u', OS_USER]).status !== 0) {
    throw new PreflightError(`PostgreSQL refuses to run as root and this machine has no "${OS_USER}" account to run it as: start PostgreSQL yourself or create that account (useradd --system ${OS_USER})`);
  }
  const runuser = findOnPath('runuser', pathEnv) ?? findOnPath('runuser', '/usr/sbin:/sbin');
  const wrap = (command: string, args: string[]): [string, string[]] =>
    runuser ? [runuser, ['-u', OS_USER, '--', command, ...args]] : ['su', [OS_USER, '-s', '/bin/sh', '-c', [command, ...args].map(quote).join(' ')]];
  return {
    wrap,
    canWrite: (dir) => spawnSync(...wrap('test', ['-w', dir, '-a', '-x', dir]), { cwd: '/' }).status === 0,
    own: (dir) => {
      spawnSync('chown', ['-R', `${OS_USER}:`, dir]);
    },
  };
}

/**
 * Where the cluster lives: `dir` when the account PostgreSQL runs as can reach it; otherwise (a checkout
 * in root's home, say) a folder of the system's temporary directory named after `dir`.
 */
function clusterHome(dir: string, run: Runner): string {
  mkdirSync(dir, { recursive: true });
  run.own(dir);
  if (run.canWrite(dir)) return dir;
  const fallback = path.join(tmpdir(), `lever-connect-postgres-${createHash('sha256').update(dir).digest('hex').slice(0, 12)}`);
  mkdirSync(fallback, { recursive: true, mode: 0o700 });
  run.own(fallback);
  return fallback;
}

/**
 * A PostgreSQL cluster of our own on host:port with trust authentication for `user` (created once by
 * initdb, kept between runs), as the `postgres` account when we are root. No Unix socket: only the TCP
 * address, so it never meets the machine's own cluster's socket. pg_ctl runs in its own process group,
 * which the postmaster inherits: a Ctrl-C in the terminal leaves it to us.
 */
export async function startPostgres(options: { binDir: string; host: string; port: number; dir: string; user: string; pathEnv?: string }): Promise<StartedServer & { dataDir: string }> {
  const run = runner(options.pathEnv);
  const home = clusterHome(options.dir, run);
  const dataDir = path.join(home, 'cluster');
  const log = path.join(home, 'server.log');
  const pgCtl = path.join(options.binDir, 'pg_ctl');

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    const initdb = spawnSync(...run.wrap(path.join(options.binDir, 'initdb'), ['-D', dataDir, '-U', options.user, '--auth=trust', '-E', 'UTF8']), { cwd: '/', encoding: 'utf8' });
    if (initdb.status !== 0) {
      const reason = `${initdb.stderr ?? ''}`.trim().split('\n').at(-1) || initdb.error?.message || `exit ${initdb.status}`;
      throw new PreflightError(`initdb could not create a PostgreSQL cluster in ${dataDir} (${reason.replace(/\.$/, '')})`);
    }
  }

  const serverOptions = `-c listen_addresses=${options.host} -p ${options.port} -c unix_socket_directories=''`;
  const [command, args] = run.wrap(pgCtl, ['-D', dataDir, '-l', log, '-w', '-t', String(START_TIMEOUT_S), '-o', serverOptions, 'start']);
  const started = spawn(command, args, { cwd: '/', detached: true, stdio: 'ignore' });
  const status = await new Promise<number | null>((resolve) => {
    started.once('error', () => resolve(null));
    started.once('exit', resolve);
  });
  if (status !== 0 || !(await waitUntilAnswers(() => probePostgres(options.host, options.port, 500), 5_000))) {
    throw new PreflightError(`PostgreSQL did not start on ${options.host}:${options.port}: see ${log}`);
  }

  let stopped: () => void = () => undefined;
  return {
    dataDir,
    log,
    stopped: new Promise<void>((resolve) => (stopped = resolve)),
    stop: () => {
      // Fast shutdown: sessions are cut, nothing is lost (the cluster is only ever ours).
      spawnSync(...run.wrap(pgCtl, ['-D', dataDir, '-m', 'fast', '-w', '-t', String(START_TIMEOUT_S), 'stop']), { cwd: '/', stdio: 'ignore' });
      stopped();
    },
  };
}
