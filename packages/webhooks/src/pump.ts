import type { Logger } from 'pino';
import { enqueueDeliveries, type WebhookQueue } from './queue.js';
import type { OutboxRelay } from './relay.js';

export interface OutboxPumpOptions {
  relay: OutboxRelay;
  queue: WebhookQueue;
  log: Logger;
  /** How often the outbox is polled, ms. Default 1000. */
  relayIntervalMs?: number;
  /** How often stranded deliveries are looked for, ms. Default 15000. */
  sweepIntervalMs?: number;
  /** A pending delivery this overdue has lost its job, ms. Default 30000 (well above queue latency). */
  sweepGraceMs?: number;
  /** False while this process must not send webhooks (deployment fence: a copy of another deployment's database). */
  mayRun?: () => Promise<boolean>;
}

/**
 * Keeps deliveries flowing from Postgres to the queue: the relay fans new outbox events out (at start and
 * every second), the sweep re-enqueues pending deliveries whose job vanished. Both are idempotent, so any
 * number of workers may run them; errors (Postgres or Redis down) are logged and retried on the next tick.
 */
export function startOutboxPump(options: OutboxPumpOptions) {
  const { relay, queue, log } = options;
  const graceMs = options.sweepGraceMs ?? 30_000;
  let stopped = false;
  let relaying: Promise<void> | undefined;
  let sweeping: Promise<void> | undefined;

  const enqueue = (ids: string[]) => enqueueDeliveries(queue, ids);
  // A restored backup or a staging copy of the database must not re-send the operator's webhooks.
  const mayRun = async () => (options.mayRun ? options.mayRun().catch(() => false) : true);

  function relayOnce(): Promise<void> {
    relaying ??= (async () => {
      try {
        if (!(await mayRun())) return;
        const events = await relay.relayAll(enqueue);
        if (events > 0) log.debug({ events }, 'outbox relayed');
      } catch (err) {
        log.warn({ err: { message: (err as Error).message } }, 'outbox relay failed; retrying');
      } finally {
        relaying = undefined;
      }
    })();
    return relaying;
  }

  function sweepOnce(): Promise<void> {
    sweeping ??= (async () => {
      try {
        if (!(await mayRun())) return;
        const stranded = await relay.findStranded(graceMs);
        if (stranded.length > 0) {
          await enqueue(stranded);
          log.info({ deliveries: stranded.length }, 'stranded webhook deliveries re-enqueued');
        }
      } catch (err) {
        log.warn({ err: { message: (err as Error).message } }, 'webhook sweep failed; retrying');
      } finally {
        sweeping = undefined;
      }
    })();
    return sweeping;
  }

  const relayTimer = setInterval(() => void (stopped || relayOnce()), options.relayIntervalMs ?? 1_000);
  const sweepTimer = setInterval(() => void (stopped || sweepOnce()), options.sweepIntervalMs ?? 15_000);
  relayTimer.unref();
  sweepTimer.unref();
  const started = Promise.all([relayOnce(), sweepOnce()]).then(() => undefined);

  return {
    /** Resolves after the first relay and sweep ran. */
    started,
    relayOnce,
    sweepOnce,
    async stop() {
      stopped = true;
      clearInterval(relayTimer);
      clearInterval(sweepTimer);
      await Promise.all([relaying, sweeping]);
    },
  };
}

export type OutboxPump = ReturnType<typeof startOutboxPump>;
