/**
 * `pnpm cli keys status` and `pnpm cli keys reencrypt`: which keys and formats the stored ciphertexts use,
 * and moving all of them to the current key and format, so an old key (TOKEN_ENCRYPTION_PREVIOUS_KEYS) can
 * be removed and v1 ciphertexts (bound to the row only) refused (docs/operating.md, "Key rotation").
 */
import { connectionCiphertexts, stashCiphertexts, subscriptionCiphertexts } from '@lever-connect/connections';
import { keyUsage, reencryptAll, type CiphertextStore, type StoreReport, type TokenCipher } from '@lever-connect/crypto';
import type { Database } from '@lever-connect/db';
import type { createRedis } from '@lever-connect/runtime';
import { endpointCiphertexts } from '@lever-connect/webhooks';

/** Every place a ciphertext is kept. A new encrypted column must be added here (a test lists them). */
export function ciphertextStores(deps: { database: Pick<Database, 'pool'>; redis: ReturnType<typeof createRedis>; redisPrefix: string }): CiphertextStore[] {
  return [
    connectionCiphertexts(deps.database),
    endpointCiphertexts(deps.database),
    subscriptionCiphertexts(deps.database),
    stashCiphertexts({ redis: deps.redis, prefix: deps.redisPrefix }),
  ];
}

export interface KeysCommandDeps {
  cipher: TokenCipher;
  stores: readonly CiphertextStore[];
  out: (line: string) => void;
  err: (line: string) => void;
}

const ciphertexts = (n: number) => `${n} ciphertext${n === 1 ? '' : 's'}`;

/** Prints the census and what it means for each key; returns how many ciphertexts are stale. */
async function printStatus({ cipher, stores, out }: KeysCommandDeps): Promise<number> {
  const { current, previous } = cipher.keyIds;
  out(`keys: current ${current}${previous.length ? `, previous ${previous.join(', ')}` : ', no previous key'}`);
  out(['store', 'column', 'format', 'key', 'count'].join('\t'));
  const census = [];
  for (const store of stores) {
    for (const entry of await store.census()) {
      census.push(entry);
      out([store.name, entry.column, entry.format, entry.keyId || '-', String(entry.count)].join('\t'));
    }
  }
  const usage = keyUsage(census, cipher.keyIds);
  out(`total: ${ciphertexts(usage.total)}; current (${cipher.currentPrefix}…): ${usage.current}; v1 (bound to the row only): ${usage.legacy}; not a ciphertext: ${usage.unreadable}`);
  for (const key of usage.keys) {
    if (key.role === 'current') out(`key ${key.keyId} (current): ${ciphertexts(key.count)}`);
    else if (key.role === 'previous') {
      out(`key ${key.keyId} (previous): ${ciphertexts(key.count)}; ${key.count === 0 ? 'safe to remove from TOKEN_ENCRYPTION_PREVIOUS_KEYS' : 'keep it until `pnpm cli keys reencrypt` has moved them'}`);
    } else out(`key ${key.keyId} (not configured): ${ciphertexts(key.count)} no configured key can decrypt`);
  }
  out(usage.legacy === 0 ? 'v1: none; TOKEN_ENCRYPTION_ACCEPT_LEGACY=false is safe' : `v1: ${ciphertexts(usage.legacy)}; keep TOKEN_ENCRYPTION_ACCEPT_LEGACY=true until they are re-encrypted`);
  out(`stale: ${usage.stale}`);
  return usage.stale;
}

function printReport(report: StoreReport, { out, err }: KeysCommandDeps): void {
  const meanwhile = report.changedMeanwhile ? `, ${report.changedMeanwhile} changed by another writer meanwhile (left as written)` : '';
  out(`${report.name}: re-encrypted ${report.reencrypted}${meanwhile}, failed ${report.failed.length}`);
  for (const failure of report.failed) err(`${report.name}: row ${failure.row} ${failure.column} did not decrypt (${failure.reason})`);
}

/** `keys status`: always 0 (it only reads); the last line is `stale: N`. */
export async function keysStatus(deps: KeysCommandDeps): Promise<number> {
  await printStatus(deps);
  return 0;
}

/** `keys reencrypt`: 0 when every ciphertext is now current, else 1 (failures are listed on stderr). */
export async function keysReencrypt(deps: KeysCommandDeps, options: { batchSize: number }): Promise<number> {
  deps.out(`re-encrypting into ${deps.cipher.currentPrefix}… in batches of ${options.batchSize}`);
  const reports = await reencryptAll(deps.cipher, deps.stores, {
    batchSize: options.batchSize,
    onBatch: (store, soFar) => deps.err(`${store}: ${soFar} re-encrypted so far`),
  });
  for (const report of reports) printReport(report, deps);
  const stale = await printStatus(deps);
  if (stale === 0) return 0;
  deps.err(`${ciphertexts(stale)} not under the current key and format: see the failures above, or run again if rows changed meanwhile`);
  return 1;
}
