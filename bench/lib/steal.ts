import { readFileSync } from 'node:fs';

/** The machine-wide CPU counters of /proc/stat's first line, in clock ticks (undefined off Linux). */
function cpuTicks(): { total: number; steal: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user)
    const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (fields.length < 8 || fields.some((n) => !Number.isFinite(n))) return undefined;
    return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7]! };
  } catch {
    return undefined;
  }
}

export interface StealReport {
  /** Share of the machine's CPU time the hypervisor gave to someone else over the whole span, %. */
  meanPercent: number;
  /** The worst one-second sample, %. */
  worstSecondPercent: number;
}

/**
 * Watches CPU steal (time a virtual machine's vCPUs were runnable but the host ran someone else) while a
 * benchmark runs. On a shared VM it is what moves latency percentiles from one minute to the next (seen:
 * single seconds with 25–39 % stolen), so every benchmark's notes say how much of the machine it had.
 */
export function watchSteal(): { stop(): StealReport | undefined } {
  const first = cpuTicks();
  let last = first;
  let worst = 0;
  const timer = setInterval(() => {
    const now = cpuTicks();
    if (now && last && now.total > last.total) worst = Math.max(worst, (100 * (now.steal - last.steal)) / (now.total - last.total));
    last = now;
  }, 1_000);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      const end = cpuTicks();
      if (!first || !end || end.total <= first.total) return undefined;
      return { meanPercent: (100 * (end.steal - first.steal)) / (end.total - first.total), worstSecondPercent: worst };
    },
  };
}
