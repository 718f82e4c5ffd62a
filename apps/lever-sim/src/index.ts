import type { AddressInfo } from 'node:net';
import { buildSim } from './app.js';
import type { SimOptions } from './options.js';

export { buildSim } from './app.js';
export type { SimOptions, RuntimeConfig } from './options.js';
export type { SimClient } from './clients.js';
export { DEV_CLIENT } from './clients.js';
export { PRODUCTION_AUDIENCE, SANDBOX_AUDIENCE } from './audiences.js';
export { CLAIM_ACCOUNT_ID, CLAIM_CLIENT_ID, CLAIM_USER_ID } from './access-tokens.js';
export type { FaultKind, FaultTarget } from './faults.js';
export { LEVER_WEBHOOK_EVENTS, type WebhookEvent } from './webhook-events.js';
export type { WebhookDeliveryView as SimWebhookDelivery } from './webhook-delivery.js';
export type { StatsSnapshot as SimStats } from './stats.js';
export type { IssuedSecretsView as SimSecrets } from './issued-secrets.js';

export interface RunningSim {
  /** Base URL, e.g. http://127.0.0.1:41234 (auth at /authorize and /oauth/token, APIs at /v1 and /sandbox/v1). */
  url: string;
  close(): Promise<void>;
}

/**
 * Boots a simulator in-process on a free port (port 0 unless given), for other packages' tests.
 * Logging defaults to `silent` here: test output should show the test, not the sim.
 */
export async function startSim(options: SimOptions & { port?: number; host?: string } = {}): Promise<RunningSim> {
  const { port = 0, host = '127.0.0.1', ...simOptions } = options;
  const app = buildSim({ logLevel: 'silent', ...simOptions });
  await app.listen({ port, host });
  const address = app.server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    close: () => (closing ??= app.close().then(() => undefined)),
  };
}
