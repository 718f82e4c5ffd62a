import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** What a message names: a connection whose row changed, or an API key that was revoked. */
export type InvalidationTopic = 'connection' | 'api-key';

export interface InvalidationBus {
  /** Tells every process (this one included) that `id` changed. Best effort: a lost message is covered by cache TTLs. */
  publish(topic: InvalidationTopic, id: string): Promise<void>;
  /** `onMessage` for each id published; `onReset` when messages may have been missed (a Redis reconnect). */
  subscribe(topic: InvalidationTopic, handlers: { onMessage(id: string): void; onReset(): void }): void;
  close(): Promise<void>;
}

/**
 * Cross-process cache invalidation over Redis pub/sub. In-memory caches (API keys, access tokens) make the
 * token endpoint fast; this makes them honest: a revoked key, a deleted or re-authorized connection is
 * dropped from every api process within milliseconds, not after a TTL. Pub/sub is fire-and-forget, so
 * after the subscriber reconnects every cache is cleared (messages sent meanwhile are gone), and each cache
 * keeps a short TTL as the last guard.
 */
export function createInvalidationBus(deps: { publisher: Redis; subscriber: () => Redis; prefix: string; log: Logger }): InvalidationBus {
  const handlers = new Map<string, Array<{ onMessage(id: string): void; onReset(): void }>>();
  const channel = (topic: InvalidationTopic) => `${deps.prefix}:invalidate:${topic}`;
  let subscriber: Redis | undefined;
  let connectedOnce = false;

  function start(): Redis {
    const sub = deps.subscriber();
    sub.on('message', (ch: string, id: string) => {
      for (const h of handlers.get(ch) ?? []) h.onMessage(id);
    });
    sub.on('ready', () => {
      // ioredis re-subscribes by itself after a reconnect; what was published while we were away is lost.
      if (connectedOnce) for (const list of handlers.values()) for (const h of list) h.onReset();
      connectedOnce = true;
    });
    sub.on('error', (err: Error) => deps.log.debug({ err: { message: err.message } }, 'invalidation subscriber: redis error'));
    return sub;
  }

  return {
    async publish(topic, id) {
      await deps.publisher.publish(channel(topic), id).catch((err: Error) => {
        deps.log.warn({ err: { message: err.message }, topic }, 'cache invalidation not published (caches expire by TTL)');
      });
    },
    subscribe(topic, h) {
      subscriber ??= start();
      const ch = channel(topic);
      const list = handlers.get(ch) ?? [];
      if (list.length === 0) void subscriber.subscribe(ch).catch(() => undefined);
      list.push(h);
      handlers.set(ch, list);
    },
    async close() {
      subscriber?.disconnect();
    },
  };
}
