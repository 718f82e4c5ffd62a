import type { Core } from '@lever-connect/connections';

/** Starts the outbox relay and webhook delivery workers: filled in by the webhooks work. */
export async function startWebhookWorkers(core: Core): Promise<{ close(): Promise<void> }> {
  void core;
  return { async close() {} };
}
