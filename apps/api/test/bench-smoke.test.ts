import { describe, expect, it } from 'vitest';
import { ratio, runBenchmarks, SIZES } from '../../../bench/index.js';

// The benchmarks of `pnpm bench` (bench/) at their smoke size: they must run and produce sane figures.
// No timing assertions here: the figures themselves are judged by `pnpm bench` on an idle machine.
describe('benchmarks at smoke size', () => {
  it('runs every benchmark: finite figures, positive rates, finite ratios, and all the work behind them done', async () => {
    const results = await runBenchmarks(SIZES.smoke);
    expect(results.map((r) => r.name).sort()).toEqual([
      '1. refresh throughput',
      '2. schedule accuracy',
      '3. token endpoint',
      '4. connect flow',
      '5. simulator refresh',
      '6. Lever API proxy',
      '7. Lever webhooks received',
      '8. operator console',
    ]);
    for (const r of results) {
      expect(r.figures.length, r.name).toBeGreaterThan(0);
      for (const f of r.figures) {
        const label = `${r.name}: ${f.figure}`;
        expect(Number.isFinite(f.value), label).toBe(true);
        expect(f.value, label).toBeGreaterThanOrEqual(0);
        if (f.unit === '/s' || f.unit === 'rps' || f.unit === 'B') expect(f.value, label).toBeGreaterThan(0);
        if (f.floor !== undefined) {
          expect(f.floor, label).toBeGreaterThan(0);
          expect(Number.isFinite(ratio(f)), label).toBe(true);
        }
      }
      // A rate is only a figure if the work behind it was done: every refresh stored its rotated token,
      // every request was answered 2xx, every scheduled connection was claimed.
      for (const [what, { done, of }] of Object.entries(r.completed ?? {})) {
        expect(of, `${r.name}: ${what}`).toBeGreaterThan(0);
        expect(done, `${r.name}: ${what}`).toBe(of);
      }
    }
    const completed = (name: string) => Object.keys(results.find((r) => r.name === name)?.completed ?? {});
    expect(completed('1. refresh throughput')).toEqual(
      expect.arrayContaining(['product: rotated tokens stored', 'floor: rotated tokens stored', 'default budget: rotated tokens stored']),
    );
    expect(completed('2. schedule accuracy')).toEqual(expect.arrayContaining(['stub refresher: connections claimed', 'end to end: rotated tokens stored']));
    expect(completed('3. token endpoint')).toEqual(['requests answered 2xx']);
  }, 240_000);
});
