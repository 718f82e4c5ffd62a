/**
 * Group commit for hot-path statements: calls made while the statement's previous batches are still in
 * flight are sent together, as one statement, when one comes back. Idle, a call waits one event-loop turn
 * (setImmediate) and goes alone; under load, batches grow with the load, so the per-statement costs (a round
 * trip, a commit, parse and executor start in Postgres) are paid once per batch instead of once per row.
 *
 * Why not DataLoader: it dispatches every tick however many batches are already waiting for a pooled
 * connection, so under load it sends many small batches that queue in the pool instead of one larger one;
 * and its keys/caching model does not fit writes.
 */
export interface BatcherOptions<I> {
  /** Most items in one statement. */
  maxBatch: number;
  /** Batches in flight at once (each holds a pooled connection). */
  maxInFlight: number;
  /**
   * Items with the same key are never in flight together (a statement touching one row twice would answer
   * both callers with one outcome); the later one waits until the earlier one's batch is back.
   */
  keyOf(item: I): string;
}

export type Batched<I, O> = (item: I) => Promise<O>;

interface Waiting<I, O> {
  item: I;
  resolve(value: O): void;
  reject(error: unknown): void;
}

/**
 * `run` gets the batch and answers one result per item, in order. If it throws for a batch of several, each
 * item is run again alone, so one bad row cannot fail its neighbours; a lone item's error is its caller's.
 */
export function createBatcher<I, O>(run: (items: I[]) => Promise<O[]>, options: BatcherOptions<I>): Batched<I, O> {
  let queue: Waiting<I, O>[] = [];
  let inFlight = 0;
  let scheduled = false;
  /** Keys of the items in the batches in flight. */
  const busyKeys = new Set<string>();

  async function runAlone(waiting: Waiting<I, O>) {
    try {
      const [result] = await run([waiting.item]);
      waiting.resolve(result as O);
    } catch (error) {
      waiting.reject(error);
    }
  }

  async function send(batch: Waiting<I, O>[], keys: string[]) {
    inFlight++;
    try {
      if (batch.length === 1) return await runAlone(batch[0]!);
      let results: O[];
      try {
        results = await run(batch.map((w) => w.item));
      } catch {
        await Promise.all(batch.map(runAlone));
        return;
      }
      batch.forEach((w, i) => w.resolve(results[i] as O));
    } finally {
      inFlight--;
      for (const key of keys) busyKeys.delete(key);
      flush();
    }
  }

  function flush() {
    while (inFlight < options.maxInFlight && queue.length > 0) {
      const batch: Waiting<I, O>[] = [];
      const keys: string[] = [];
      const later: Waiting<I, O>[] = [];
      for (const waiting of queue) {
        const key = options.keyOf(waiting.item);
        if (batch.length < options.maxBatch && !busyKeys.has(key)) {
          busyKeys.add(key);
          keys.push(key);
          batch.push(waiting);
        } else {
          later.push(waiting);
        }
      }
      queue = later;
      if (batch.length === 0) return; // everything left waits for a batch in flight on its key
      void send(batch, keys);
    }
  }

  return (item) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (!scheduled && inFlight < options.maxInFlight) {
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          flush();
        });
      }
    });
}
