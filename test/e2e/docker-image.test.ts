// The images, read from the Dockerfile and docker-compose.yml (there is no Docker engine to build them
// here): Node 24 everywhere, a runtime image (api, worker) without the Lever simulator, and the simulator
// in an image of its own that compose uses.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '@lever-connect/testing';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

interface Stage {
  name: string;
  from: string;
  /** Instructions after FROM, continuation lines joined, comments dropped. */
  instructions: { op: string; args: string }[];
}

function parseDockerfile(text: string): Stage[] {
  const logical = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === 'FROM') {
      const [, from = '', name = ''] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ name, from, instructions: [] });
    } else {
      stages.at(-1)!.instructions.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

const stages = parseDockerfile(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const stage = (name: string): Stage => {
  const found = stages.find((s) => s.name === name);
  if (!found) throw new Error(`the Dockerfile has no stage ${name}`);
  return found;
};
const copiesFrom = (s: Stage) =>
  s.instructions.filter((i) => i.op === 'COPY' && i.args.startsWith('--from=')).map((i) => {
    const [from, ...paths] = i.args.replace(/^--from=/, '').split(/\s+/);
    return { from: from!, sources: paths.slice(0, -1) };
  });
/** The stage, its parents by FROM, and every stage it copies from, recursively. */
function lineage(name: string, seen = new Set<string>()): Stage[] {
  if (seen.has(name) || !stages.some((s) => s.name === name)) return [];
  seen.add(name);
  const s = stage(name);
  return [s, ...lineage(s.from, seen), ...copiesFrom(s).flatMap((c) => lineage(c.from, seen))];
}
const runs = (s: Stage) => s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
const env = (s: Stage) => s.instructions.filter((i) => i.op === 'ENV').map((i) => i.args).join(' ');
const cmd = (s: Stage) => JSON.parse(s.instructions.findLast((i) => i.op === 'CMD')!.args) as string[];

describe('Dockerfile', () => {
  it('builds every stage on Node 24', () => {
    const images = stages.map((s) => s.from).filter((from) => !stages.some((s) => s.name === from));
    expect(images.length).toBeGreaterThan(0);
    for (const image of images) expect(image).toMatch(/^node:24(-|$)/);
  });

  it('makes the runtime image (api, worker) the default target, in production, without the simulator', () => {
    const runtime = stages.at(-1)!;
    expect(runtime.name).toBe('runtime');
    expect(env(runtime)).toMatch(/\bNODE_ENV=production\b/);
    expect(cmd(runtime)).toEqual(['node', 'apps/api/dist/server.js']);

    // Its dependencies come from an install of the workspace with the simulator's manifest removed first.
    const copies = copiesFrom(runtime);
    expect(copies.map((c) => c.from).sort()).toEqual(['dist', 'prod-deps']);
    const install = runs(stage('prod-deps'));
    expect(install).toHaveLength(1);
    expect(install[0]).toMatch(/^rm -r apps\/lever-sim && pnpm install --frozen-lockfile --prod\b/);

    // Its compiled code is the dist stage's /out/service, which everything but apps/lever-sim goes to.
    expect(copies.find((c) => c.from === 'dist')!.sources).toEqual(['/out/service']);
    const collect = runs(stage('dist')).join('\n');
    expect(collect).toContain('if [ "$d" = apps/lever-sim ]; then out=/out/sim; else out=/out/service; fi');

    // Nothing else in its lineage puts simulator files in it.
    const mentions = lineage('runtime')
      .filter((s) => !['dist', 'prod-deps'].includes(s.name))
      .flatMap((s) => s.instructions.map((i) => `${s.name}: ${i.op} ${i.args}`))
      .filter((line) => line.includes('lever-sim'));
    expect(mentions).toEqual([]);
  });

  it('has a sim target with the simulator alone, never in production', () => {
    const sim = stage('sim');
    expect(stages.indexOf(sim)).toBeLessThan(stages.length - 1);
    expect(env(sim)).not.toMatch(/NODE_ENV=production/);
    expect(cmd(sim)).toEqual(['node', 'apps/lever-sim/dist/server.js']);
    expect(copiesFrom(sim)).toEqual([
      { from: 'sim-deps', sources: ['/app'] },
      { from: 'dist', sources: ['/out/sim'] },
    ]);
    // The install sees the root manifests and the simulator's package.json: none of api's or worker's.
    const manifests = copiesFrom(stage('sim-deps')).flatMap((c) => c.sources);
    expect(manifests.filter((p) => /^\/app\/(apps|packages)\//.test(p))).toEqual(['/app/apps/lever-sim/package.json']);
  });
});

describe('docker-compose.yml', () => {
  const compose = parseYaml(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { build?: { context: string; target: string }; environment?: Record<string, string> }>;
  };

  it('builds the simulator from the sim target and api and worker from runtime', () => {
    const targets = Object.fromEntries(Object.entries(compose.services).filter(([, s]) => s.build).map(([name, s]) => [name, s.build!.target]));
    expect(targets).toEqual({ 'lever-sim': 'sim', migrate: 'migrate', api: 'runtime', worker: 'runtime' });
    for (const target of Object.values(targets)) expect(stages.some((s) => s.name === target)).toBe(true);
  });

  it('never runs the simulator with NODE_ENV=production', () => {
    expect(compose.services['lever-sim']!.environment?.NODE_ENV).not.toBe('production');
  });
});

describe('.dockerignore', () => {
  it('keeps the preflight data and a private Node out of the build context', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['.data', '.tools']));
  });
});
