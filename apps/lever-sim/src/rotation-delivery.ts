import type { FastifyReply } from 'fastify';
import type { SimContext } from './context.js';
import type { Grant } from './store.js';

/**
 * Records whether the answer carrying a grant's new tokens reached the client: Lever rotated, but if the
 * answer was lost the client still holds the old refresh token, and its retry is reuse. A reliability census
 * counts these.
 *
 * "Reached" means the response was written out in full (`finish`) before the connection closed. A `close`
 * without `finish` — a `timeout_after_rotation` fault destroying the socket, or a client that hung up while a
 * `slow` fault held the answer — is undelivered. Until one of the two happens, `delivered` is null.
 */
export function trackRotationDelivery(ctx: Pick<SimContext, 'stats' | 'clock'>, grant: Grant, reply: FastifyReply): void {
  const rotation: NonNullable<Grant['lastRotation']> = { at: ctx.clock.now(), delivered: null };
  grant.rotations++;
  grant.lastRotation = rotation;

  const raw = reply.raw;
  const settle = (delivered: boolean) => {
    raw.off('finish', onFinish);
    raw.off('close', onClose);
    if (rotation.delivered !== null) return;
    rotation.delivered = delivered;
    ctx.stats.increment(delivered ? 'rotationsDelivered' : 'rotationsUndelivered');
  };
  const onFinish = () => settle(true);
  const onClose = () => settle(raw.writableFinished);
  // The client may have gone while the request waited (latency): `close` has fired already and will not again.
  if (raw.destroyed) return settle(false);
  raw.once('finish', onFinish);
  raw.once('close', onClose);
}
