import { createRequire } from 'node:module';
import type * as BullMQ from '../../apps/worker/node_modules/bullmq/dist/esm/index.js';
import type * as FastifyModule from '../../apps/api/node_modules/fastify/fastify.js';
import type * as PinoModule from '../../apps/api/node_modules/pino/pino.js';

/**
 * bench/ is not a workspace package (it has nothing of its own to install), so it borrows the apps' own
 * dependencies: resolved from the app that uses them, they are the very module instances (pnpm realpaths)
 * the api and the worker run with, so a floor built from them differs from the product only in our code.
 */
const fromApi = createRequire(new URL('../../apps/api/package.json', import.meta.url));
const fromWorker = createRequire(new URL('../../apps/worker/package.json', import.meta.url));

const bullmq = fromWorker('bullmq') as typeof BullMQ;
export const Queue: typeof BullMQ.Queue = bullmq.Queue;
export const Worker: typeof BullMQ.Worker = bullmq.Worker;
export type Job<T> = BullMQ.Job<T>;
export const fastify: typeof FastifyModule.fastify = (fromApi('fastify') as typeof FastifyModule).fastify;
export type FastifyInstance = FastifyModule.FastifyInstance;
export const pino: typeof PinoModule.pino = (fromApi('pino') as typeof PinoModule).pino;
export type Logger = PinoModule.Logger;
