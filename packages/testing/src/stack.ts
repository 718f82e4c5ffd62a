import { generateApiKey } from '@lever-connect/crypto';
import { createTestDatabase, type TestDatabase } from './database.js';
import { deleteRedisPrefix, freePort, randomEncryptionKey, randomRedisPrefix, TEST_REDIS_URL } from './misc.js';
import { APP_ENTRIES, startApp, type ManagedProcess } from './processes.js';

/** A simulator running inside the test's own process. */
export interface InProcessSim {
  url: string;
  close(): Promise<void>;
}

/**
 * Starts a simulator in this process, e.g. `() => startSim({ port: 0 })` from `@lever-connect/lever-sim`:
 * the caller passes it in because this package must not import an app.
 */
export type StartSim = () => Promise<InProcessSim>;

/** How a stack runs the Lever simulator: a child process, a function that starts one in-process, or none. */
export type SimChoice = 'process' | StartSim | false;

/** What `stack.sim` is for each choice. */
export type SimOf<S extends SimChoice> = S extends 'process' ? ManagedProcess : S extends StartSim ? InProcessSim : undefined;

export interface TestStackOptions<S extends SimChoice = 'process'> {
  /**
   * The Lever simulator. `'process'` (default) runs apps/lever-sim from its sources as a child process
   * (its own log file, its own pid to read CPU time from); a function starts one in this process; `false`
   * starts none, and LEVER_SIMULATOR_URL is then left to `env` or the config's default.
   */
  sim?: S;
  /** Environment of the simulator child process, over `SIM_AUTO_APPROVE=1 LOG_LEVEL=warn`. Only with `sim: 'process'`. */
  simEnv?: Record<string, string>;
  /** Name of the simulator child process; its log is test-artifacts/logs/<name>-<port>.log. Default `lever-sim`. */
  simName?: string;
  /** api child processes to start (default 0). The first one's URL is PUBLIC_BASE_URL: only it serves the OAuth callback. */
  apis?: number;
  /** worker child processes to start (default 0). */
  workers?: number;
  /** Variables over the stack's own (applied last): what in-process cores and child processes run with. */
  env?: Record<string, string>;
  /** A private Redis (tests that flush or restart it). Its keys are left to its owner. Default TEST_REDIS_URL. */
  redisUrl?: string;
  /** The admin URL of a private Postgres cluster (tests that stop it). Default ADMIN_DATABASE_URL. */
  pgAdminUrl?: string;
}

export interface TestStack<S extends SimChoice = 'process'> {
  /**
   * The product's environment: NODE_ENV=test, DATABASE_URL, REDIS_URL, REDIS_PREFIX, TOKEN_ENCRYPTION_KEY,
   * LEVER_ENV=simulator, ALLOW_INSECURE_DEV=true, CONNECT_RATE_LIMIT_PER_MINUTE=0, LEVER_SIMULATOR_URL (with a simulator), PUBLIC_BASE_URL, then `options.env`.
   * Child processes run with it; an in-process core is `createCore(loadConfig({ ...stack.env, ...more }), logger)`.
   */
  env: Record<string, string>;
  db: TestDatabase;
  redisPrefix: string;
  sim: SimOf<S>;
  apis: ManagedProcess[];
  workers: ManagedProcess[];
  /** One more api process on a free port, with `env` (so it shares the first one's PUBLIC_BASE_URL). */
  startApi(): Promise<ManagedProcess>;
  startWorker(): Promise<ManagedProcess>;
  /** An API key with no tenant (sees every tenant), written straight to the stack's database; returns the key. */
  createAdminKey(name?: string): Promise<string>;
  /** A further private Redis key prefix, removed by `stop()` like `redisPrefix`. */
  newRedisPrefix(): string;
  /** JSON from the simulator's control plane (`/__sim/stats`). */
  simStats(): Promise<Record<string, number>>;
  /** POSTs JSON to the simulator's control plane; throws on a non-2xx answer. */
  simPost(path: string, body?: unknown): Promise<unknown>;
  /**
   * Stops workers and apis, then the simulator, drops the database and deletes the Redis prefixes (unless
   * `redisUrl` was given). Idempotent. Cores the caller built are the caller's to close first.
   */
  stop(): Promise<void>;
}

const DEFAULT_PUBLIC_BASE_URL = 'http://127.0.0.1:3999';

/**
 * Boots what a test or a benchmark needs of the product: a fresh migrated database, a private Redis key
 * prefix, an encryption key, the Lever simulator, and (if asked) api and worker processes run from their
 * sources. It never builds a core: that needs @lever-connect/connections, whose own tests use this package.
 * Whatever started before a failure is stopped before the error is thrown.
 */
export async function startTestStack<S extends SimChoice = 'process'>(options: TestStackOptions<S> = {}): Promise<TestStack<S>> {
  const simChoice: SimChoice = options.sim ?? 'process';
  if (options.simEnv && simChoice !== 'process') throw new Error('simEnv applies to a simulator child process only (sim: "process")');
  const redisUrl = options.redisUrl ?? TEST_REDIS_URL;
  const prefixes = [randomRedisPrefix()];
  const apis: ManagedProcess[] = [];
  const workers: ManagedProcess[] = [];
  let db: TestDatabase | undefined;
  let sim: RunningSimulator | undefined;

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await Promise.all([...workers, ...apis].map((p) => p.stop()));
      await sim?.stop();
      await db?.drop().catch(() => undefined);
      if (!options.redisUrl) await Promise.all(prefixes.map((prefix) => deleteRedisPrefix(prefix, redisUrl)));
    })());

  const started = await Promise.allSettled([createTestDatabase(options.pgAdminUrl), startSimulator(simChoice, options)] as const);
  const [database, simulator] = started;
  if (database.status === 'fulfilled') db = database.value;
  if (simulator.status === 'fulfilled') sim = simulator.value;
  const failure = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure || !db) {
    await stop();
    throw failure?.reason;
  }
  const readyDb = db;

  try {
    const apiPort = (options.apis ?? 0) > 0 ? await freePort() : undefined;
    const env: Record<string, string> = {
      NODE_ENV: 'test',
      DATABASE_URL: readyDb.url,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefixes[0]!,
      TOKEN_ENCRYPTION_KEY: randomEncryptionKey(),
      LEVER_ENV: 'simulator',
      // Webhook receivers and the api are plain http on 127.0.0.1 here.
      ALLOW_INSECURE_DEV: 'true',
      // Every client of a test stack is 127.0.0.1, so the per-address limit on the public connect pages would
      // throttle tests that connect dozens of accounts; test/security/fair-share.test.ts sets and tests it.
      CONNECT_RATE_LIMIT_PER_MINUTE: '0',
      ...(sim ? { LEVER_SIMULATOR_URL: sim.handle.url } : {}),
      PUBLIC_BASE_URL: apiPort ? `http://127.0.0.1:${apiPort}` : DEFAULT_PUBLIC_BASE_URL,
      ...options.env,
    };
    const startApi = async (port?: number) => {
      const api = await startApp({ name: 'api', entry: APP_ENTRIES.api, port: port ?? (await freePort()), env });
      apis.push(api);
      return api;
    };
    const startWorker = async () => {
      const worker = await startApp({ name: 'worker', entry: APP_ENTRIES.worker, port: await freePort(), env });
      workers.push(worker);
      return worker;
    };
    for (let i = 0; i < (options.apis ?? 0); i++) await startApi(i === 0 ? apiPort : undefined);
    for (let i = 0; i < (options.workers ?? 0); i++) await startWorker();

    const simUrl = () => {
      if (!sim) throw new Error('this stack runs no simulator (sim: false)');
      return sim.handle.url;
    };
    return {
      env,
      db: readyDb,
      redisPrefix: prefixes[0]!,
      sim: sim?.handle as SimOf<S>,
      apis,
      workers,
      startApi: () => startApi(),
      startWorker,
      async createAdminKey(name = 'test admin') {
        // The product's key format and hash (generateApiKey), so the api accepts it; a plain insert because
        // the key service lives in @lever-connect/connections, which depends on this package for its tests.
        const { key, prefix, hash } = generateApiKey();
        await readyDb.db.prisma.apiKey.create({ data: { name, prefix, hash } });
        return key;
      },
      newRedisPrefix() {
        const prefix = randomRedisPrefix();
        prefixes.push(prefix);
        return prefix;
      },
      async simStats() {
        return (await (await fetch(`${simUrl()}/__sim/stats`)).json()) as Record<string, number>;
      },
      async simPost(path, body) {
        const res = await fetch(simUrl() + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
        if (!res.ok) throw new Error(`sim ${path}: ${res.status} ${await res.text()}`);
        return res.json();
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

interface RunningSimulator {
  handle: ManagedProcess | InProcessSim;
  stop(): Promise<unknown>;
}

async function startSimulator(choice: SimChoice, options: TestStackOptions<SimChoice>): Promise<RunningSimulator | undefined> {
  if (choice === false) return undefined;
  if (choice !== 'process') {
    const inProcess = await choice();
    return { handle: inProcess, stop: () => inProcess.close() };
  }
  const child = await startApp({
    name: options.simName ?? 'lever-sim',
    entry: APP_ENTRIES['lever-sim'],
    port: await freePort(),
    healthPath: '/__sim/stats',
    env: { SIM_AUTO_APPROVE: '1', LOG_LEVEL: 'warn', ...options.simEnv },
  });
  return { handle: child, stop: () => child.stop() };
}
