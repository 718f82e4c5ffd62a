/** One measured figure, with the floor it is compared to (same unit, same run) when it has one. */
export interface Figure {
  figure: string;
  value: number;
  unit: string;
  /** The floor's value in the same unit, measured in the same run. */
  floor?: number | undefined;
  floorLabel?: string | undefined;
  /** Human-readable target, e.g. "≥ 60 % of floor". */
  target?: string | undefined;
  pass?: boolean | undefined;
}

export interface BenchResult {
  name: string;
  /** How it was measured (process layout, sizes, concurrency). */
  setup: string;
  figures: Figure[];
  notes: string[];
  /**
   * Work that must have been done whatever the speed (refreshes stored, requests answered 2xx): `done` of
   * `of`. A rate over failed work is no rate; bench-smoke.test.ts asserts these are complete.
   */
  completed?: Record<string, { done: number; of: number }>;
}

export function ratio(f: Figure): number | undefined {
  return f.floor === undefined ? undefined : f.value / f.floor;
}

function fmt(n: number | undefined, unit = ''): string {
  if (n === undefined || Number.isNaN(n)) return '—';
  const digits = Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2;
  return `${n.toFixed(digits)}${unit ? ` ${unit}` : ''}`;
}

const verdict = (f: Figure) => (f.pass === undefined ? '' : f.pass ? 'pass' : 'FAIL');

/** A markdown table of every figure; readable as plain text in a terminal too. */
export function renderTable(results: BenchResult[]): string {
  const lines = ['| benchmark | figure | value | floor | ratio | target | |', '|---|---|---:|---:|---:|---|---|'];
  for (const r of results) {
    for (const f of r.figures) {
      const q = ratio(f);
      lines.push(
        `| ${r.name} | ${f.figure} | ${fmt(f.value, f.unit)} | ${f.floor === undefined ? '—' : `${fmt(f.floor, f.unit)}${f.floorLabel ? ` (${f.floorLabel})` : ''}`} | ${q === undefined ? '—' : `${(q * 100).toFixed(0)} %`} | ${f.target ?? ''} | ${verdict(f)} |`,
      );
    }
  }
  return lines.join('\n');
}

export function renderReport(results: BenchResult[], header: string[]): string {
  const out = ['# lever-connect benchmarks', '', ...header, '', renderTable(results), ''];
  for (const r of results) {
    out.push(`## ${r.name}`, '', r.setup, '');
    for (const n of r.notes) out.push(`- ${n}`);
    out.push('');
  }
  return out.join('\n');
}
