import { createDatabase } from '@lever-connect/db';
import { createTestDatabase, type TestDatabase } from '@lever-connect/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeploymentFence } from '../src/index.js';

describe('deployment fence (real Postgres)', () => {
  let db: TestDatabase;
  const databases: Array<ReturnType<typeof createDatabase>> = [];
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await Promise.all(databases.map((d) => d.close()));
    await db?.drop();
  });
  const processDb = () => {
    const d = createDatabase({ url: db.url, poolSize: 10 });
    databases.push(d);
    return d;
  };

  it('lets the first of many concurrent readers on an empty database claim it, and none of them fail', async () => {
    // Three processes start on an empty database; each fires 30 reads at once (a sweep starting its refreshes).
    const prod = [processDb(), processDb()].map((d) => createDeploymentFence(d.prisma, 'production'));
    const staging = createDeploymentFence(processDb().prisma, 'staging-copy');
    const results = await Promise.allSettled([...prod, staging].flatMap((fence) => Array.from({ length: 30 }, () => fence.owner())));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const owners = new Set(results.map((r) => (r as PromiseFulfilledResult<string>).value));
    // Exactly one deployment claimed it, and every reader saw that one.
    expect(owners.size).toBe(1);
    const owner = [...owners][0];
    expect(['production', 'staging-copy']).toContain(owner);
    const rows = await processDb().pool.query('SELECT "deploymentId" FROM "deployment_fence"');
    expect(rows.rows).toEqual([{ deploymentId: owner }]);
    expect(await staging.isOwner()).toBe(owner === 'staging-copy');
  });
});
