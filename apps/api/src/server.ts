import closeWithGrace from 'close-with-grace';
import { ConfigError } from '@lever-connect/config';
import { buildApp } from './app.js';
import { createContainer } from './container.js';

let container;
try {
  container = createContainer();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
const { config, logger, core } = container;
const app = await buildApp({ core, logger });

closeWithGrace({ delay: 15_000 }, async ({ signal, err }) => {
  if (err) logger.error({ err }, 'shutting down after an error');
  else logger.info({ signal }, 'shutting down');
  await app.close();
  await core.close();
});

await app.listen({ port: config.port, host: config.host });
logger.info({ url: config.publicBaseUrl, lever: config.lever.mode }, 'lever-connect api listening');
