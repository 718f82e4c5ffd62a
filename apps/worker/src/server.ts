import http from 'node:http';
import closeWithGrace from 'close-with-grace';
import { ConfigError, loadConfig } from '@lever-connect/config';
import { createCore, sampleGauges } from '@lever-connect/connections';
import { createLogger } from '@lever-connect/runtime';
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

// Health and metrics for orchestrators and Prometheus. Bind it to a private interface: /metrics carries no
// secret, but it is operational detail (the api's /metrics needs an admin key).
const server = http.createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  if (req.url === '/metrics') {
    void (async () => {
      await sampleGauges({ metrics: core.metrics, prisma: core.prisma, queues: core.watchedQueues }).catch(() => undefined);
      res.writeHead(200, { 'content-type': core.metrics.registry.contentType }).end(await core.metrics.registry.metrics());
    })();
    return;
  }
  res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"route_not_found","message":"not found"}}');
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
