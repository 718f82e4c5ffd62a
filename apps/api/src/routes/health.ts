import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';

const Check = Type.Union([Type.Literal('ok'), Type.Literal('down')]);

export default async function healthRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/healthz',
    { schema: { tags: ['health'], summary: 'The process is up', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );
  r.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Postgres and Redis answer',
        response: {
          200: Type.Object({ status: Type.Literal('ok'), postgres: Check, redis: Check }),
          503: Type.Object({ status: Type.Literal('unavailable'), postgres: Check, redis: Check }),
        },
      },
    },
    async (_request, reply) => {
      const timeout = <T>(p: Promise<T>) =>
        Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 2_000).unref())]);
      const [pg, redis] = await Promise.allSettled([
        timeout(app.core.prisma.$queryRaw`SELECT 1`),
        timeout(app.core.redis.ping()),
      ]);
      const postgres = pg.status === 'fulfilled' ? ('ok' as const) : ('down' as const);
      const redisStatus = redis.status === 'fulfilled' ? ('ok' as const) : ('down' as const);
      if (postgres === 'ok' && redisStatus === 'ok') return { status: 'ok' as const, postgres, redis: redisStatus };
      return reply.code(503).send({ status: 'unavailable' as const, postgres, redis: redisStatus });
    },
  );
}
