import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { insertConnections, issueGrant, startBenchStack } from './lib/stack.js';

// Ad-hoc probe (not part of pnpm bench): CPU cost per Prisma call shape on the token endpoint's path.
const stack = await startBenchStack();
try {
  const { core } = await stack.core();
  const grant = await issueGrant(stack.simUrl, `probe_${randomBytes(3).toString('hex')}`);
  const [id] = await insertConnections(core, `probe-${randomBytes(3).toString('hex')}`, [grant], { due: false });
  const cases: Record<string, () => Promise<unknown>> = {
    'findUnique(id)': () => core.prisma.connection.findUnique({ where: { id: id! } }),
    'findUnique(id, include tenant) = repo.findById': () => core.repo.findById(id!),
    '$queryRaw SELECT c.*, t."externalId" JOIN': () =>
      core.prisma.$queryRaw`SELECT c.*, t."externalId" FROM connections c JOIN tenants t ON t.id = c."tenantId" WHERE c.id = ${id}::uuid`,
    'pg pool.query same JOIN': () =>
      core.database.pool.query('SELECT c.*, t."externalId" FROM connections c JOIN tenants t ON t.id = c."tenantId" WHERE c.id = $1', [id]),
  };
  for (const [name, run] of Object.entries(cases)) {
    for (let i = 0; i < 200; i++) await run();
    const n = 2000;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await run();
    const wall = (performance.now() - t0) / n;
    const cpu = process.cpuUsage(cpu0);
    console.log(`${name.padEnd(50)} wall ${wall.toFixed(3)} ms  cpu ${((cpu.user + cpu.system) / 1000 / n).toFixed(3)} ms`);
  }
} finally {
  await stack.close();
}
