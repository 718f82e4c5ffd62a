import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The dependency direction of docs/architecture.md, enforced: apps import packages, packages never import
 * apps, no app imports another app, and no module or package imports itself back through others.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Workspace {
  kind: 'app' | 'package';
  dir: string;
  name: string;
  dependencies: string[];
}

function workspaces(): Workspace[] {
  return (['apps', 'packages'] as const).flatMap((top) =>
    readdirSync(path.join(ROOT, top)).flatMap((entry) => {
      const manifest = path.join(ROOT, top, entry, 'package.json');
      try {
        const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name: string; dependencies?: Record<string, string> };
        return [{ kind: top === 'apps' ? 'app' : 'package', dir: path.join(top, entry), name: pkg.name, dependencies: Object.keys(pkg.dependencies ?? {}) } as Workspace];
      } catch {
        return [];
      }
    }),
  );
}

/** Every TypeScript/JavaScript source below `dir` (generated code and build output excluded). */
function sources(dir: string): string[] {
  const out: string[] = [];
  const walk = (at: string) => {
    let entries: string[];
    try {
      entries = readdirSync(at);
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry === 'node_modules' || entry === 'dist' || entry === 'generated') continue;
      const full = path.join(at, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (/\.(ts|mts|js|mjs)$/.test(entry) && !entry.endsWith('.d.ts')) out.push(full);
    }
  };
  walk(path.join(ROOT, dir));
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => (m[1] ?? m[2])!);
}

/** The workspace a file or an import specifier lands in, if any. */
function landsIn(all: Workspace[], from: string, specifier: string): Workspace | undefined {
  if (specifier.startsWith('.')) {
    const target = path.relative(ROOT, path.resolve(path.dirname(from), specifier));
    return all.find((w) => target === w.dir || target.startsWith(w.dir + path.sep));
  }
  return all.find((w) => specifier === w.name || specifier.startsWith(w.name + '/'));
}

/** Strongly connected components with more than one member (or a self-loop): the cycles of a graph. */
function cycles(graph: Map<string, Set<string>>): string[][] {
  let index = 0;
  const stack: string[] = [];
  const meta = new Map<string, { index: number; low: number; onStack: boolean }>();
  const found: string[][] = [];
  const visit = (v: string) => {
    meta.set(v, { index, low: index, onStack: true });
    index++;
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!meta.has(w)) {
        visit(w);
        meta.get(v)!.low = Math.min(meta.get(v)!.low, meta.get(w)!.low);
      } else if (meta.get(w)!.onStack) {
        meta.get(v)!.low = Math.min(meta.get(v)!.low, meta.get(w)!.index);
      }
    }
    if (meta.get(v)!.low === meta.get(v)!.index) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        meta.get(w)!.onStack = false;
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)?.has(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!meta.has(v)) visit(v);
  return found;
}

function resolveRelative(from: string, specifier: string): string | undefined {
  const base = path.resolve(path.dirname(from), specifier);
  for (const candidate of [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, path.join(base, 'index.ts')]) {
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // next candidate
    }
  }
  return undefined;
}

describe('the dependency direction (docs/architecture.md)', () => {
  const all = workspaces();

  it('finds the workspaces it checks', () => {
    expect(all.filter((w) => w.kind === 'app').map((w) => w.name)).toEqual(expect.arrayContaining(['@lever-connect/api', '@lever-connect/worker', '@lever-connect/lever-sim']));
    expect(all.filter((w) => w.kind === 'package').length).toBeGreaterThanOrEqual(10);
  });

  // The checks below pass when they find nothing; these controls show that they would find something.
  it('reads the imports it judges, and would see an offence and a cycle', () => {
    const specifiers = all.flatMap((w) => sources(w.dir).flatMap((file) => importsOf(file).map((specifier) => ({ file, specifier }))));
    const crossing = specifiers.filter(({ file, specifier }) => {
      const target = landsIn(all, file, specifier);
      return target !== undefined && !file.startsWith(path.join(ROOT, target.dir) + path.sep);
    });
    // The api app imports packages, both by name and (tests) by relative path into another workspace.
    expect(crossing.length).toBeGreaterThan(100);
    expect(crossing.some(({ file, specifier }) => file.includes(`${path.sep}apps${path.sep}api${path.sep}`) && specifier === '@lever-connect/connections')).toBe(true);
    const from = path.join(ROOT, 'packages', 'connections', 'src', 'x.ts');
    expect(landsIn(all, from, '@lever-connect/api')?.kind).toBe('app');
    expect(landsIn(all, from, '../../../apps/worker/src/main.js')?.name).toBe('@lever-connect/worker');
    expect(importsOf(path.join(ROOT, 'test', 'architecture', 'imports.test.ts'))).toEqual(expect.arrayContaining(['node:fs', 'vitest']));
    const graph = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a'])],
      ['d', new Set(['d'])],
      ['e', new Set(['a'])],
    ]);
    expect(cycles(graph)).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('has no package importing an app and no app importing another app (sources, scripts and tests)', () => {
    const offences: string[] = [];
    for (const w of all) {
      for (const file of sources(w.dir)) {
        for (const specifier of importsOf(file)) {
          const target = landsIn(all, file, specifier);
          if (!target || target === w || target.kind !== 'app') continue;
          offences.push(`${path.relative(ROOT, file)} (${w.kind}) imports ${specifier} (the app ${target.name})`);
        }
      }
    }
    expect(offences).toEqual([]);
  });

  it('declares no app as a dependency of a package or of another app', () => {
    const apps = new Set(all.filter((w) => w.kind === 'app').map((w) => w.name));
    const offences = all.flatMap((w) => w.dependencies.filter((d) => apps.has(d) && d !== w.name).map((d) => `${w.name} depends on ${d}`));
    expect(offences).toEqual([]);
  });

  it('has no cycle between workspace packages (runtime dependencies)', () => {
    const names = new Set(all.map((w) => w.name));
    const graph = new Map(all.map((w) => [w.name, new Set(w.dependencies.filter((d) => names.has(d)))]));
    expect(cycles(graph)).toEqual([]);
  });

  it('has no import cycle between the modules of any app or package', () => {
    const graph = new Map<string, Set<string>>();
    for (const w of all) {
      for (const file of sources(path.join(w.dir, 'src'))) {
        const edges = new Set<string>();
        for (const specifier of importsOf(file)) {
          if (!specifier.startsWith('.')) continue;
          const target = resolveRelative(file, specifier);
          if (target) edges.add(path.relative(ROOT, target));
        }
        graph.set(path.relative(ROOT, file), edges);
      }
    }
    expect(graph.size).toBeGreaterThan(100);
    expect([...graph.values()].reduce((n, edges) => n + edges.size, 0), 'relative imports resolved to files').toBeGreaterThan(100);
    expect(cycles(graph)).toEqual([]);
  });
});
