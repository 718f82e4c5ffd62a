import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_NAMES, renderReport, renderTable, runBenchmarks, SIZES, type BenchName } from './index.js';
import { watchSteal } from './lib/steal.js';

/**
 * `pnpm bench [--size full|smoke] [--only sim,refresh,token,connect,schedule] [--out reports/bench.md]`.
 * Profile with `NODE_OPTIONS=--cpu-prof pnpm bench --only token` (profiles land in the working directory).
 */
const { values } = parseArgs({
  options: {
    size: { type: 'string', default: 'full' },
    only: { type: 'string' },
    out: { type: 'string' },
  },
});
const size = values.size === 'smoke' ? 'smoke' : 'full';
const only = (values.only?.split(',').map((s) => s.trim()) ?? BENCH_NAMES) as BenchName[];
const unknown = only.filter((n) => !BENCH_NAMES.includes(n));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')} (known: ${BENCH_NAMES.join(', ')})`);
  process.exit(2);
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.resolve(root, values.out ?? (size === 'full' ? 'reports/bench.md' : 'reports/bench-smoke.md'));
/**
 * The commit measured, and whether the work tree differed from it (then the figures are of uncommitted
 * code). reports/ does not count: a previous run's report is what this one replaces.
 */
function commit(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
    const changed = git('status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)reports').split('\n').filter(Boolean);
    return `${git('rev-parse', 'HEAD')}${changed.length ? ` + uncommitted changes to ${changed.length} file(s)` : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

const measuredCommit = commit();
// Other processes of this VM (other sessions, a build) take CPU without showing as steal: the load average
// before the run says whether the machine was quiet.
const loadBefore = os.loadavg().map((l) => l.toFixed(1)).join(', ');
const started = new Date();
const steal = watchSteal();
const results = await runBenchmarks(SIZES[size], only, (r) => console.log(`\n${renderTable([r])}\n${r.notes.map((n) => `  - ${n}`).join('\n')}`));
const runSteal = steal.stop();
const header = [
  `Run ${started.toISOString()} (${((Date.now() - started.getTime()) / 1000).toFixed(0)} s), size \`${size}\`, benchmarks: ${only.join(', ')}, on commit ${measuredCommit}.`,
  `Host CPU steal over the whole run: ${runSteal ? `${runSteal.meanPercent.toFixed(1)} % of the machine on average, ${runSteal.worstSecondPercent.toFixed(0)} % in its worst second` : 'unknown'} (/proc/stat steal column; each benchmark's own is in its notes); load average before the run ${loadBefore} (1, 5, 15 min).`,
  `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}.`,
  'Absolute numbers vary by machine; each figure is compared with its floor measured in the same run.',
];
console.log(`\n${renderTable(results)}`);
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, renderReport(results, header));
console.log(`\nwrote ${path.relative(root, out)}`);
