import { describe, expect, it } from 'vitest';
import { createBatcher } from '../src/store/batcher.js';

/** A statement stand-in whose batches the test releases by hand. */
function controlledRun() {
  const batches: Array<{ items: string[]; finish(fail?: Error): void }> = [];
  const run = (items: string[]) =>
    new Promise<string[]>((resolve, reject) => {
      batches.push({ items, finish: (fail) => (fail ? reject(fail) : resolve(items.map((i) => `done:${i}`))) });
    });
  return { run, batches };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('createBatcher (group commit)', () => {
  it('sends a lone call after one event-loop turn, and calls made meanwhile together', async () => {
    const { run, batches } = controlledRun();
    const call = createBatcher(run, { maxBatch: 10, maxInFlight: 1, keyOf: (i) => i });
    const first = call('a');
    await turn();
    expect(batches.map((b) => b.items)).toEqual([['a']]);
    // While the first batch is in flight, calls queue...
    const rest = ['b', 'c', 'd'].map((i) => call(i));
    await turn();
    expect(batches).toHaveLength(1);
    // ...and go as one statement when it comes back.
    batches[0]!.finish();
    expect(await first).toBe('done:a');
    await turn();
    expect(batches.map((b) => b.items)).toEqual([['a'], ['b', 'c', 'd']]);
    batches[1]!.finish();
    expect(await Promise.all(rest)).toEqual(['done:b', 'done:c', 'done:d']);
  });

  it('caps a batch at maxBatch and keeps maxInFlight batches going', async () => {
    const { run, batches } = controlledRun();
    const call = createBatcher(run, { maxBatch: 2, maxInFlight: 2, keyOf: (i) => i });
    const results = ['a', 'b', 'c', 'd', 'e'].map((i) => call(i));
    await turn();
    expect(batches.map((b) => b.items)).toEqual([['a', 'b'], ['c', 'd']]);
    batches[1]!.finish();
    await turn();
    expect(batches.map((b) => b.items)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    batches[0]!.finish();
    batches[2]!.finish();
    expect(await Promise.all(results)).toEqual(['done:a', 'done:b', 'done:c', 'done:d', 'done:e']);
  });

  it('never has two calls with one key in flight at once', async () => {
    const { run, batches } = controlledRun();
    const call = createBatcher(run, { maxBatch: 10, maxInFlight: 3, keyOf: (i) => i.split(':')[0]! });
    const results = ['x:1', 'x:2', 'y:1', 'x:3'].map((i) => call(i));
    await turn();
    expect(batches.map((b) => b.items)).toEqual([['x:1', 'y:1']]);
    batches[0]!.finish();
    await turn();
    expect(batches.map((b) => b.items)[1]).toEqual(['x:2']);
    batches[1]!.finish();
    await turn();
    expect(batches.map((b) => b.items)[2]).toEqual(['x:3']);
    batches[2]!.finish();
    expect(await Promise.all(results)).toEqual(['done:x:1', 'done:x:2', 'done:y:1', 'done:x:3']);
  });

  it('retries a failed batch row by row, so only the bad row fails', async () => {
    const seen: string[][] = [];
    const call = createBatcher(
      async (items: string[]) => {
        seen.push(items);
        if (items.includes('bad')) throw new Error(`statement failed on ${items.join(',')}`);
        return items.map((i) => i.toUpperCase());
      },
      { maxBatch: 10, maxInFlight: 1, keyOf: (i) => i },
    );
    const results = await Promise.allSettled(['ok1', 'bad', 'ok2'].map((i) => call(i)));
    expect(seen).toEqual([['ok1', 'bad', 'ok2'], ['ok1'], ['bad'], ['ok2']]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['OK1', 'statement failed on bad', 'OK2']);
  });
});
