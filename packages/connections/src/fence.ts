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
  async function readOwner(): Promise<string> {
    if (cached && Date.now() - cached.at < CACHE_MS) return cached.owner;
    // First process to start on an empty database claims it; later ones only read.
    const row = await prisma.deploymentFence.upsert({
      where: { id: 1 },
      create: { id: 1, deploymentId },
      update: {},
    });
    cached = { owner: row.deploymentId, at: Date.now() };
    return row.deploymentId;
  }
  return {
    owner: readOwner,
    async isOwner() {
      return (await readOwner()) === deploymentId;
    },
  };
}
