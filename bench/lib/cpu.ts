import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/**
 * Where the CPU of a run goes. Every process of a benchmark shares this box's cores, so a side's rate is
 * bounded by the CPU it and everything it calls spend per request; splitting that by process says what
 * separates a product from its floor (the product's own thread, or Postgres, Redis, the simulator, the load
 * generator). Linux only (/proc); elsewhere the parts read as NaN.
 */
export interface CpuReading {
  /** The bench's main thread (the api, the workers or the floor routes), µs. */
  main: number;
  /** The whole bench process (main thread + load generator threads + libuv and GC threads), µs. */
  process: number;
  sim: number;
  /** Every postgres process on the box, live ones plus the children the postmaster has reaped, µs. */
  postgres: number;
  redis: number;
}

/** CPU per unit of work (answered request, stored refresh), µs, by who spent it. */
export interface CpuSplit {
  main: number;
  sim: number;
  postgres: number;
  redis: number;
  /** The bench process's other threads: the load generator, GC, log writes. */
  others: number;
}

const TICK_US = (() => {
  try {
    return 1e6 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  } catch {
    return 1e4;
  }
})();

/** utime + stime (and, with `children`, cutime + cstime) of a process from /proc/PID/stat, µs. */
export function procCpu(pid: number | string, children = false): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // After the command name: state is field 3, so utime/stime/cutime/cstime (14–17) are 11–14 here.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const own = Number(fields[11]) + Number(fields[12]);
  return (children ? own + Number(fields[13]) + Number(fields[14]) : own) * TICK_US;
}

/** Backends come and go with pool connections: the postmaster's reaped-children time keeps theirs. */
function postgresCpu(): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
      const parent = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = parent.slice(parent.lastIndexOf(')') + 2).split(' ')[1];
      const isPostmaster = ppid !== undefined && readFileSync(`/proc/${ppid}/comm`, 'utf8').trim() !== 'postgres';
      total += procCpu(pid, isPostmaster);
    } catch {
      // The process ended between listing and reading: its time is in its parent's reaped total.
    }
  }
  return total;
}

export function cpuMeter(deps: { simPid?: number; redis?: Pick<Redis, 'info'> }): () => Promise<CpuReading> {
  const redisCpu = async () => {
    if (!deps.redis) return Number.NaN;
    const info = await deps.redis.info('cpu');
    const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? Number.NaN);
    return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
  };
  const safe = (read: () => number) => {
    try {
      return read();
    } catch {
      return Number.NaN;
    }
  };
  return async () => {
    const thread = process.threadCpuUsage();
    const all = process.cpuUsage();
    return {
      main: thread.user + thread.system,
      process: all.user + all.system,
      sim: deps.simPid === undefined ? Number.NaN : safe(() => procCpu(deps.simPid!)),
      postgres: safe(postgresCpu),
      redis: await redisCpu(),
    };
  };
}

/** The CPU spent between two readings, per unit of work. */
export function cpuPer(before: CpuReading, after: CpuReading, units: number): CpuSplit {
  const n = Math.max(1, units);
  const main = (after.main - before.main) / n;
  return {
    main,
    sim: (after.sim - before.sim) / n,
    postgres: (after.postgres - before.postgres) / n,
    redis: (after.redis - before.redis) / n,
    others: (after.process - before.process) / n - main,
  };
}

export const cpuTotal = (c: CpuSplit): number => [c.main, c.sim, c.postgres, c.redis, c.others].filter((x) => Number.isFinite(x)).reduce((a, b) => a + b, 0);

/** "805 µs = main thread (the api) 394 + Postgres 0 + …"; parts that were not measured are left out. */
export function describeCpu(c: CpuSplit, mainLabel: string, othersLabel = "the bench's other threads (load generator, GC, log writes)"): string {
  const parts = [
    `main thread (${mainLabel}) ${c.main.toFixed(0)}`,
    ...(Number.isFinite(c.sim) ? [`simulator ${c.sim.toFixed(0)}`] : []),
    ...(Number.isFinite(c.postgres) ? [`Postgres ${c.postgres.toFixed(0)}`] : []),
    ...(Number.isFinite(c.redis) ? [`Redis ${c.redis.toFixed(0)}`] : []),
    `${othersLabel} ${c.others.toFixed(0)}`,
  ];
  return `${cpuTotal(c).toFixed(0)} µs = ${parts.join(' + ')} µs`;
}
