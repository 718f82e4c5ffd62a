import { waitFor } from '@lever-connect/testing';
import type { Stack } from './stack.js';

/** One rotation as the simulator's `GET /__sim/grants` shows it (apps/lever-sim, rotation-delivery.ts). */
export interface SimRotation {
  at: string;
  delivered: boolean | null;
  settledAt: string | null;
  clientPort: number | null;
  lostBy?: 'closed_before_written' | 'reset_unread';
}

export interface SimGrant {
  id: string;
  account: string;
  status: string;
  createdAt: string;
  revokedAt?: string;
  revokedReason?: string;
  rotations: number;
  lastRotation: SimRotation | null;
  undeliveredRotations: SimRotation[];
}

export async function simGrants(stack: Stack): Promise<SimGrant[]> {
  return (await (await fetch(`${stack.sim.url}/__sim/grants`)).json()) as SimGrant[];
}

/** Each account's latest grant (the one its connection holds: a reconnect makes a new one). */
export function latestGrants(grants: SimGrant[]): Map<string, SimGrant> {
  const byAccount = new Map<string, SimGrant>();
  for (const g of grants) {
    const seen = byAccount.get(g.account);
    if (!seen || g.createdAt > seen.createdAt) byAccount.set(g.account, g);
  }
  return byAccount;
}

export interface ConnectionCensus {
  total: number;
  active: number;
  needsReauth: Array<{ id: string; reason: string | null }>;
  /** Active connections whose token, fetched through the api, the simulator accepted. */
  accepted: number;
  rejected: string[];
}

/**
 * Checks every connection the way a customer would notice: an active connection must hand out a token the
 * simulator's API accepts.
 */
export async function census(stack: Stack): Promise<ConnectionCensus> {
  const rows = await stack.db.db.prisma.connection.findMany({ select: { id: true, status: true, reauthReason: true, leaseOwner: true, leaseExpiresAt: true, accessTokenExpiresAt: true } });
  const result: ConnectionCensus = { total: rows.length, active: 0, needsReauth: [], accepted: 0, rejected: [] };
  const auth = { authorization: `Bearer ${stack.adminKey}` };
  for (const row of rows) {
    if (row.status === 'needs_reauth') result.needsReauth.push({ id: row.id, reason: row.reauthReason });
    if (row.status !== 'active') continue;
    result.active++;
    const res = await fetch(`${stack.api.url}/v1/connections/${row.id}/access-token`, { headers: auth });
    if (res.status !== 200) {
      // The lease tells a dead holder (expires soon, then another process takes over) from a stuck one.
      const lease = row.leaseOwner ? `lease ${row.leaseOwner} until ${row.leaseExpiresAt?.toISOString()}` : 'no lease';
      result.rejected.push(`${row.id}: api ${res.status} ${await res.text()} (${lease}, token expires ${row.accessTokenExpiresAt?.toISOString()}, census at ${new Date().toISOString()})`);
      continue;
    }
    const token = (await res.json()) as { accessToken: string; apiBaseUrl: string };
    const lever = await fetch(`${token.apiBaseUrl}/users?limit=1`, { headers: { authorization: `Bearer ${token.accessToken}` } });
    await lever.body?.cancel();
    if (lever.status === 200) result.accepted++;
    else result.rejected.push(`${row.id}: lever ${lever.status}`);
  }
  return result;
}

export interface ForcedRefreshCensus {
  /** Active connections whose refresh the census forced through the api. */
  forced: number;
  /** Of those, the ones that answered 200 after their grant rotated at the simulator. */
  rotated: number;
  /** Reuse detections at the simulator during the pass. */
  newReuse: number;
  /** Connections whose stored refresh token is not proven Lever's current one, one line each. */
  stale: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A forced refresh through the api, waiting out 429/503 + Retry-After (quotas, the forced-refresh budget). */
async function forceRefresh(stack: Stack, id: string): Promise<{ status: number; text: string }> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${stack.api.url}/v1/connections/${id}/access-token?forceRefresh=true`, {
      headers: { authorization: `Bearer ${stack.adminKey}` },
      signal: AbortSignal.timeout(30_000),
    });
    if ((res.status === 429 || res.status === 503) && attempt < 10) {
      await res.body?.cancel();
      await sleep(Math.min(5, Number(res.headers.get('retry-after') ?? 1) || 1) * 1000);
      continue;
    }
    const text = res.status === 200 ? '' : await res.text();
    if (res.status === 200) await res.body?.cancel();
    return { status: res.status, text };
  }
}

/**
 * Proves that every active connection stores Lever's current refresh token, not only a working access token:
 * with the simulator's reuse leeway at 0 (a replay would hide a stale token), one forced refresh per active
 * connection must rotate its grant at the simulator and cause no reuse detection. The leeway is restored after.
 */
export async function forcedRefreshCensus(stack: Stack, options: { parallel?: number } = {}): Promise<ForcedRefreshCensus> {
  const config = (await (await fetch(`${stack.sim.url}/__sim/config`)).json()) as { reuseLeewaySeconds: number };
  await stack.simPost('/__sim/config', { reuseLeewaySeconds: 0 });
  try {
    const rows = await stack.db.db.prisma.connection.findMany({ where: { status: 'active' }, select: { id: true, leverAccountId: true } });
    const before = latestGrants(await simGrants(stack));
    const reuseBefore = (await stack.simStats()).refreshTokenReuse!;
    const answers = new Map<string, { status: number; text: string }>();
    let next = 0;
    const loop = async () => {
      while (next < rows.length) {
        const row = rows[next++]!;
        answers.set(row.id, await forceRefresh(stack, row.id).catch((error: unknown) => ({ status: 0, text: String(error) })));
      }
    };
    await Promise.all(Array.from({ length: options.parallel ?? 4 }, loop));
    const after = latestGrants(await simGrants(stack));
    const newReuse = (await stack.simStats()).refreshTokenReuse! - reuseBefore;
    const stale: string[] = [];
    let rotated = 0;
    for (const row of rows) {
      const answer = answers.get(row.id)!;
      const grant = after.get(row.leverAccountId);
      const rotations = (grant?.rotations ?? 0) - (before.get(row.leverAccountId)?.rotations ?? 0);
      if (grant?.revokedReason === 'refresh_token_reuse') stale.push(`${row.id} (${row.leverAccountId}): reuse detected, grant revoked`);
      else if (answer.status !== 200) stale.push(`${row.id} (${row.leverAccountId}): forced refresh ${answer.status} ${answer.text.slice(0, 200)}`);
      else if (rotations < 1) stale.push(`${row.id} (${row.leverAccountId}): forced refresh answered 200 without a rotation at the simulator`);
      else rotated++;
    }
    return { forced: rows.length, rotated, newReuse, stale };
  } finally {
    await stack.simPost('/__sim/config', { reuseLeewaySeconds: config.reuseLeewaySeconds });
  }
}

/** Calls the token endpoint for random connections from `concurrency` loops until `until` resolves. */
export async function tokenReaders(
  stack: Stack,
  ids: string[],
  options: { concurrency: number; durationMs: number; forceEvery?: number },
): Promise<{ reads: number; statuses: Record<number, number> }> {
  const deadline = Date.now() + options.durationMs;
  const statuses: Record<number, number> = {};
  let reads = 0;
  const auth = { authorization: `Bearer ${stack.adminKey}` };
  const loop = async () => {
    while (Date.now() < deadline) {
      const id = ids[Math.floor(Math.random() * ids.length)]!;
      const force = options.forceEvery && reads % options.forceEvery === 0 ? '?forceRefresh=true' : '';
      const api = stack.apis[reads % stack.apis.length] ?? stack.api;
      const res = await fetch(`${api.url}/v1/connections/${id}/access-token${force}`, { headers: auth }).catch(() => undefined);
      reads++;
      const status = res?.status ?? 0;
      statuses[status] = (statuses[status] ?? 0) + 1;
      await res?.body?.cancel();
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, loop));
  return { reads, statuses };
}

export async function eventCounts(stack: Stack): Promise<Record<string, number>> {
  const groups = await stack.db.db.prisma.event.groupBy({ by: ['type'], _count: { _all: true } });
  return Object.fromEntries(groups.map((g) => [g.type, g._count._all]));
}

/**
 * Waits until no active connection holds a lease (a SIGKILLed holder's lease must expire first) and every
 * active token has a few seconds left, so the census measures the steady state, not an in-flight refresh.
 */
export async function settle(stack: Stack, timeoutMs = 120_000) {
  await waitFor(
    'the connections to settle (no lease held, tokens fresh)',
    async () => {
      const soon = new Date(Date.now() + 3_000);
      const open = await stack.db.db.prisma.connection.count({
        where: { status: 'active', OR: [{ leaseOwner: { not: null } }, { accessTokenExpiresAt: { lt: soon } }] },
      });
      return open === 0;
    },
    { timeoutMs, intervalMs: 500 },
  ).catch(() => undefined); // the census then shows what did not settle
}
