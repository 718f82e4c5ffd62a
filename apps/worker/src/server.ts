import closeWithGrace from 'close-with-grace';
import { ConfigError, loadConfig } from '@lever-connect/config';
import { createCore, sampleGauges } from '@lever-connect/connections';
import { createLogger } from '@lever-connect/runtime';
import { createHealthServer } from './health-server.js';
import { startWorkers } from './workers.js';

let config;
try {
  config = loadConfig(process.env, { port: 3001 });
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
const logger = createLogger(config, 'worker');
const core = createCore(config, logger, { processName: 'worker' });
const owner = await core.fence.owner().catch(() => undefined);
if (owner && owner !== config.deploymentId) {
  logger.error({ owner, deploymentId: config.deploymentId }, 'this database belongs to another deployment: refreshes are fenced off');
}
const workers = await startWorkers(core);

// Health and metrics for orchestrators and Prometheus: /metrics needs METRICS_TOKEN, or a loopback client.
const server = createHealthServer({
  metricsToken: config.metricsToken,
  async renderMetrics() {
    await sampleGauges({ metrics: core.metrics, prisma: core.prisma, queues: core.watchedQueues }).catch(() => undefined);
    return { contentType: core.metrics.registry.contentType, body: await core.metrics.registry.metrics() };
  },
});
server.listen(config.port, config.host);

closeWithGrace({ delay: 60_000 }, async ({ signal, err }) => {
  if (err) logger.error({ err }, 'shutting down after an error');
  else logger.info({ signal }, 'shutting down: finishing refreshes in flight');
  server.close();
  await workers.close();
  await core.close();
  logger.info('worker stopped');
});
logger.info({ concurrency: config.refresh.concurrency, port: config.port, lever: config.lever.mode }, 'lever-connect worker started');
