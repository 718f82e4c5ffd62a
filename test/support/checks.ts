import { waitFor } from '@lever-connect/testing';
import type { Stack } from './stack.js';

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
