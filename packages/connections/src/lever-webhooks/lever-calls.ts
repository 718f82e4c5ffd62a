import { EVERY_TENANT } from '../access/viewer.js';
import type { LeverProxy } from '../proxy/proxy.js';
import { readWebhookPage, type LeverWebhook } from './lever-api-shapes.js';

/** Lever's answer to one call: its status and JSON body (undefined when not JSON). */
export interface LeverAnswer {
  status: number;
  body: unknown;
}

async function json(body: AsyncIterable<unknown> | Buffer): Promise<unknown> {
  const chunks: Buffer[] = [];
  if (Buffer.isBuffer(body)) chunks.push(body);
  else for await (const chunk of body) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Lever's Webhooks Subscription API for one connection, through the proxy: the account's shared budget,
 * retries of 429s, 5xx and an early 401 (proxy.ts). Errors of the proxy (needs_reauth, lever_forbidden,
 * lever_unavailable...) are thrown as they are.
 */
export function leverWebhooksApi(proxy: Pick<LeverProxy, 'forward'>, connectionId: string) {
  async function call(method: string, rawPath: string, payload?: unknown, query = ''): Promise<LeverAnswer> {
    const bytes = payload === undefined ? undefined : Buffer.from(JSON.stringify(payload));
    const answer = await proxy.forward(connectionId, {
      method,
      rawPath,
      query,
      headers: { accept: 'application/json', ...(bytes ? { 'content-type': 'application/json', 'content-length': String(bytes.length) } : {}) },
      body: bytes ? { size: bytes.length, open: () => bytes } : undefined,
      viewer: EVERY_TENANT,
    });
    return { status: answer.status, body: await json(answer.body) };
  }

  return {
    /** Every webhook of the account (all pages). */
    async list(): Promise<LeverWebhook[]> {
      const all: LeverWebhook[] = [];
      let offset: string | undefined;
      for (let page = 0; page < 100; page++) {
        const answer = await call('GET', 'webhooks', undefined, `?limit=100${offset ? `&offset=${encodeURIComponent(offset)}` : ''}`);
        if (answer.status !== 200) throw new Error(`Lever answered ${answer.status} to GET /webhooks`);
        const { webhooks, next } = readWebhookPage(answer.body);
        all.push(...webhooks);
        if (!next) return all;
        offset = next;
      }
      return all;
    },
    create: (url: string, event: string) => call('POST', 'webhooks', { url, event }),
    enable: (leverWebhookId: string) => call('PUT', `webhooks/${encodeURIComponent(leverWebhookId)}`, { enabled: true }),
    remove: (leverWebhookId: string) => call('DELETE', `webhooks/${encodeURIComponent(leverWebhookId)}`),
  };
}
