import type { LeverEnvironmentConfig } from '@lever-connect/config';
import type { OutboxEvent } from '@lever-connect/db';
import type { TokenSet } from '@lever-connect/lever';
import { connectionEvent } from '../store/connection-events.js';
import type { ConnectionWithTenant } from '../store/connection-repo.js';
import type { RefreshContext } from './context.js';
import { grantExpiresAt, nextRefreshAt } from './schedule.js';
import type { PendingTokens } from './stash.js';
import type { Attempt, RefreshTrigger } from './types.js';

const DAY_MS = 24 * 3600 * 1000;
/** How long a write of rotated tokens is retried before the attempt gives up (the tokens stay stashed). */
const WRITE_RETRY_MAX_MS = 10 * 60_000;
/** A reader waits this long for the rotated tokens to be stored before answering with them anyway. */
const READ_ANSWER_WAIT_MS = 2_000;

/** Stores rotated tokens (fenced on the version read), with their events, in one statement. Null when the fence lost. */
async function persist(ctx: RefreshContext, connection: ConnectionWithTenant, pending: PendingTokens): Promise<ConnectionWithTenant | null> {
  const { deps, now } = ctx;
  const expiresAt = new Date(pending.expiresAt);
  const issuedAt = new Date(pending.issuedAt);
  const events: OutboxEvent[] = [connectionEvent('connection.refreshed', connection)];
  if (connection.refreshFailingNotified) events.push(connectionEvent('connection.recovered', connection));
  const grantEnd = grantExpiresAt(connection.grantCreatedAt ?? issuedAt);
  const expiring = !connection.expiringNotified && grantEnd.getTime() - now().getTime() <= deps.config.refresh.expiringNoticeDays * DAY_MS;
  if (expiring) events.push(connectionEvent('connection.expiring', connection, { reason: `grant_expires_at:${grantEnd.toISOString()}` }));
  const written = await deps.repo.storeRotated({
    id: connection.id,
    version: pending.version,
    accessTokenCiphertext: deps.cipher.encrypt(pending.accessToken, { row: connection.id, column: 'accessToken' }),
    refreshTokenCiphertext: deps.cipher.encrypt(pending.refreshToken, { row: connection.id, column: 'refreshToken' }),
    accessTokenExpiresAt: expiresAt,
    issuedAt,
    scopes: pending.scopes,
    nextRefreshAt: nextRefreshAt(expiresAt, issuedAt, deps.config.refresh),
    expiringNotified: expiring,
    events,
  });
  return written ? { ...written, tenant: connection.tenant } : null;
}

/**
 * Writes rotated tokens until the write lands. Lever has already killed the old refresh token, so these
 * tokens are the grant: they are stashed (memory, then Redis, retried until Redis takes them) while the
 * write is retried, and nobody calls Lever for this connection meanwhile (we still hold the lock and the
 * lease; others find the stash first, and a taker of our lease waits for this write to land).
 */
async function persistUntilStored(ctx: RefreshContext, connection: ConnectionWithTenant, pending: PendingTokens): Promise<ConnectionWithTenant | null> {
  const { deps } = ctx;
  let delay = 250;
  const started = Date.now();
  let stashed = false;
  for (;;) {
    try {
      const stored = await persist(ctx, connection, pending);
      if (stashed) await deps.stash.clear(connection.id, pending.version);
      return stored;
    } catch (error) {
      if (!stashed) {
        try {
          await deps.stash.save(pending);
          stashed = true;
        } catch (stashError) {
          deps.log.error({ connectionId: connection.id, err: stashError }, 'stashing rotated tokens in Redis failed; kept in memory, retrying');
        }
      }
      deps.log.error({ connectionId: connection.id, err: error }, 'storing rotated tokens failed; retrying');
      if (ctx.stopping || Date.now() - started > WRITE_RETRY_MAX_MS) throw error;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, ctx.writeRetryMaxDelayMs);
    }
  }
}

/** Starts arming the sweep's wake-up for the next refresh; its failure is logged (the next sweep or the reconciler arms it). */
export function scheduleNext(ctx: RefreshContext, connection: ConnectionWithTenant): Promise<void> {
  return (async () => ctx.deps.onScheduled?.(connection))().catch((err: unknown) =>
    ctx.deps.log.warn({ connectionId: connection.id, err }, 'scheduling the next refresh failed'),
  );
}

/** A stashed token set from an earlier, interrupted write is applied before anything else; the attempt, if it was. */
export async function applyStash(ctx: RefreshContext, connection: ConnectionWithTenant): Promise<Attempt | undefined> {
  const { deps } = ctx;
  const pending = await deps.stash.load(connection.id, connection.version);
  if (!pending) return undefined;
  const stored = await persistUntilStored(ctx, connection, pending);
  await deps.stash.clear(connection.id, pending.version);
  if (!stored) {
    deps.log.warn({ connectionId: connection.id }, 'discarding a stashed token set superseded by a newer version');
    return undefined;
  }
  deps.log.info({ connectionId: connection.id }, 'applied stashed rotated tokens');
  // The fenced write freed the lease.
  return {
    result: { outcome: 'refreshed', connection: stored, accessToken: deps.cipher.decrypt(stored.accessTokenCiphertext!, { row: stored.id, column: 'accessToken' }) },
    alongside: scheduleNext(ctx, stored),
  };
}

/**
 * Stores what Lever answered (persistUntilStored) and schedules the next refresh. A reader waiting on an HTTP
 * request is answered with the new access token after READ_ANSWER_WAIT_MS even if Postgres is slow or
 * down; the write goes on in the background (`pending`: the lock stays held until it lands).
 */
export async function storeAnswer(
  ctx: RefreshContext,
  connection: ConnectionWithTenant,
  tokens: TokenSet,
  refreshToken: string,
  env: LeverEnvironmentConfig,
  trigger: RefreshTrigger,
): Promise<Attempt> {
  const { deps } = ctx;
  const pending: PendingTokens = {
    connectionId: connection.id,
    version: connection.version,
    accessToken: tokens.accessToken,
    // Lever always rotates; if a server ever omits the new one, the old one is still the live one.
    refreshToken: tokens.refreshToken ?? refreshToken,
    expiresAt: tokens.expiresAt.toISOString(),
    issuedAt: new Date(tokens.expiresAt.getTime() - tokens.expiresInSeconds * 1000).toISOString(),
    scopes: tokens.scopes,
  };
  let alongside: Promise<void> | undefined;
  const write = (async () => {
    const stored = await persistUntilStored(ctx, connection, pending);
    await deps.appCredentials.accepted(env.environment).catch(() => undefined);
    if (!stored) {
      // Only a reconnect (new grant, version bumped) or a delete may write over a held lease; their
      // tokens win, and the rotated tokens of the old grant are dropped on purpose.
      deps.log.warn({ connectionId: connection.id }, 'fenced write lost: the connection was re-authorized or deleted meanwhile');
      return { outcome: 'busy' } as const;
    }
    // The next wake-up is armed while the lock is released (the caller awaits both).
    alongside = scheduleNext(ctx, stored);
    return { outcome: 'refreshed', connection: stored, accessToken: tokens.accessToken } as const;
  })();
  ctx.inflightWrites.add(write);
  void write.then(
    () => ctx.inflightWrites.delete(write),
    () => ctx.inflightWrites.delete(write),
  );

  if (trigger === 'read') {
    const early = await Promise.race([write, new Promise<undefined>((r) => setTimeout(() => r(undefined), READ_ANSWER_WAIT_MS).unref())]);
    if (early === undefined) {
      const provisional: ConnectionWithTenant = {
        ...connection,
        accessTokenExpiresAt: tokens.expiresAt,
        refreshTokenIssuedAt: new Date(pending.issuedAt),
        scopes: pending.scopes.length ? pending.scopes : connection.scopes,
      };
      return { result: { outcome: 'refreshed', connection: provisional, accessToken: tokens.accessToken }, pending: write };
    }
  }
  const result = await write;
  return { result, alongside };
}
