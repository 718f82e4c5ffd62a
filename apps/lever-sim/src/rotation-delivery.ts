import type { Socket } from 'node:net';
import type { FastifyReply } from 'fastify';
import type { Clock } from './clock.js';
import type { Stats } from './stats.js';
import { UNDELIVERED_KEPT, type Grant, type Rotation } from './store.js';

/**
 * Answers written on a socket that the client has not yet shown it read, each with what to do once it has
 * (its next request on that socket) or once the socket closes. Per sim, keyed by the socket itself.
 */
export type UnreadAnswers = WeakMap<Socket, () => void>;

export function createUnreadAnswers(): UnreadAnswers {
  return new WeakMap();
}

/** A new request on a kept-alive socket proves the client read the answer before it (no pipelining). */
export function noteNextRequest(unread: UnreadAnswers, socket: Socket | null | undefined): void {
  if (socket) unread.get(socket)?.();
}

/**
 * Records whether the answer carrying a grant's new tokens reached the client: Lever rotated, but if the
 * answer was lost the client still holds the old refresh token, and its retry is reuse. A reliability census
 * counts these, and maps the lost ones to the client process that was asked (`clientPort`, read by the caller
 * when the request arrived: a socket destroyed since no longer knows its peer).
 *
 * "Reached" means the response was written out in full (`finish`) before the connection closed. A `close`
 * without `finish` — a `timeout_after_rotation` fault destroying the socket, a client that hung up while a
 * `slow` fault or the latency held the answer — is undelivered. Until one of the two happens, `delivered` is
 * null. `finish` only means the kernel took the bytes: a client process killed before it read them makes its
 * kernel answer with a reset (TCP RST: a socket closed with unread data), so a reset of that socket before the
 * client's next request on it revises `delivered` to false (`reset_unread`). A clean close (FIN) or a next
 * request confirms the answer was read.
 */
export function trackRotationDelivery(
  // Its own types, not SimContext's: context.ts builds the context from this module (no import cycle).
  ctx: { stats: Stats; clock: Clock; unreadAnswers: UnreadAnswers },
  grant: Grant,
  reply: FastifyReply,
  clientPort: number | null,
): void {
  const raw = reply.raw;
  const socket = raw.socket;
  const rotation: Rotation = { at: ctx.clock.now(), delivered: null, clientPort };
  grant.rotations++;
  grant.lastRotation = rotation;

  const lost = (lostBy: NonNullable<Rotation['lostBy']>) => {
    rotation.delivered = false;
    rotation.lostBy = lostBy;
    rotation.settledAt = ctx.clock.now();
    grant.undelivered.push(rotation);
    if (grant.undelivered.length > UNDELIVERED_KEPT) grant.undelivered.shift();
    ctx.stats.increment('rotationsUndelivered');
  };
  const settle = (delivered: boolean) => {
    raw.off('finish', onFinish);
    raw.off('close', onClose);
    if (rotation.delivered !== null) return;
    if (!delivered) return lost('closed_before_written');
    rotation.delivered = true;
    rotation.settledAt = ctx.clock.now();
    ctx.stats.increment('rotationsDelivered');
    if (socket) watchUntilRead(ctx.unreadAnswers, socket, () => {
      ctx.stats.increment('rotationsDelivered', -1);
      lost('reset_unread');
    });
  };
  const onFinish = () => settle(true);
  const onClose = () => settle(raw.writableFinished);
  // The client may have gone while the request waited (latency): `close` has fired already and will not again.
  if (raw.destroyed) return settle(false);
  raw.once('finish', onFinish);
  raw.once('close', onClose);
}

/** Calls `onReset` if the socket is reset before the client's next request on it or its clean close. */
function watchUntilRead(unread: UnreadAnswers, socket: Socket, onReset: () => void): void {
  if (typeof socket.on !== 'function' || socket.destroyed) return; // app.inject's stand-in socket; or already gone
  const onError = (error: NodeJS.ErrnoException) => {
    if (error.code === 'ECONNRESET') {
      forget();
      onReset();
    }
  };
  const forget = () => {
    socket.off('error', onError);
    socket.off('close', forget);
    if (unread.get(socket) === forget) unread.delete(socket);
  };
  unread.get(socket)?.(); // an earlier answer on this socket was read, or this one could not have been asked for
  socket.on('error', onError);
  socket.once('close', forget);
  unread.set(socket, forget);
}
