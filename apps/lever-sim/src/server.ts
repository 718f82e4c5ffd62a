import closeWithGrace from 'close-with-grace';
import { buildSim } from './app.js';
import { parseSimEnv, SimEnvError } from './env.js';

let config;
try {
  config = parseSimEnv(process.env);
} catch (error) {
  if (error instanceof SimEnvError) {
    console.error(`lever-sim: ${error.message}`);
    process.exit(1);
  }
  throw error;
}

const app = buildSim(config.options);

closeWithGrace({ delay: 5_000 }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'shutting down after an error');
  else app.log.info({ signal }, 'shutting down');
  await app.close();
});

const url = await app.listen({ port: config.port, host: config.host });
app.log.info({ url, mode: config.options.mode, control: config.options.control }, 'lever-sim listening');
