import type { PrismaClient } from '@lever-connect/db';

/**
 * Deployment fence. The database records which deployment owns it; processes configured with another
 * DEPLOYMENT_ID refuse to call Lever. A staging clone or a restored backup of production's database would
 * otherwise rotate, and so destroy, live grants.
 */
export interface DeploymentFence {
  /** True when this process may call Lever for this database. Cached briefly. */
  isOwner(): Promise<boolean>;
  /** The deployment id recorded in the database (claiming it if none is). */
  owner(): Promise<string>;
}

const CACHE_MS = 15_000;

export function createDeploymentFence(prisma: PrismaClient, deploymentId: string): DeploymentFence {
  let cached: { owner: string; at: number } | undefined;
  let reading: Promise<string> | undefined;
  async function read(): Promise<string> {
    // First process to start on an empty database claims it; later ones only read. ON CONFLICT, not
    // Prisma's upsert (a read then a write): concurrent first claims must not fail on the primary key.
    await prisma.$executeRaw`INSERT INTO "deployment_fence" ("id", "deploymentId") VALUES (1, ${deploymentId}) ON CONFLICT ("id") DO NOTHING`;
    const row = await prisma.deploymentFence.findUniqueOrThrow({ where: { id: 1 } });
    cached = { owner: row.deploymentId, at: Date.now() };
    return row.deploymentId;
  }
  function readOwner(): Promise<string> {
    if (cached && Date.now() - cached.at < CACHE_MS) return Promise.resolve(cached.owner);
    // One read at a time: a sweep starting 50 refreshes at once asks 50 times in the same instant.
    reading ??= read().finally(() => {
      reading = undefined;
    });
    return reading;
  }
  return {
    owner: readOwner,
    async isOwner() {
      return (await readOwner()) === deploymentId;
    },
  };
}
