import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The receiver side of lever-connect's webhooks: Standard Webhooks (https://www.standardwebhooks.com/),
 * symmetric `v1` signatures. Self-contained on purpose (node:crypto only), so the SDK pulls in nothing of the
 * service; test/webhook-verify.test.ts checks it against signatures made by the `standardwebhooks` package.
 */

const SECRET_PREFIX = 'whsec_';
const DEFAULT_TOLERANCE_SECONDS = 300;

export class WebhookVerificationError extends Error {
  readonly code = 'webhook_verification_failed';
  constructor(message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

export interface VerifyOptions {
  /** How far the timestamp may be from now, either way, in seconds. Default 300 (the replay window). */
  toleranceSeconds?: number;
  /** The current time in ms since the epoch (tests). Default `Date.now()`. */
  now?: number;
}

type HeaderBag = Record<string, string | string[] | undefined> | Headers;

function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof Headers !== 'undefined' && headers instanceof Headers) return headers.get(name) ?? undefined;
  const entry = Object.entries(headers as Record<string, string | string[] | undefined>).find(([k]) => k.toLowerCase() === name)?.[1];
  return Array.isArray(entry) ? entry[0] : entry;
}

/** The HMAC key: the base64 part of the secret after `whsec_`. */
function secretKey(secret: string): Buffer {
  const key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
  if (key.length === 0) throw new TypeError('verifyWebhook: the webhook secret is empty');
  return key;
}

/**
 * Verifies a webhook as its receiver and returns the parsed payload. Checks that the timestamp is within
 * the tolerance (so a captured message cannot be replayed later) and that one of the space-separated `v1,`
 * signatures matches, compared in constant time; during a secret rotation a message carries one signature
 * per secret, and any one is enough. Pass the raw body exactly as received: re-serialised JSON will not
 * verify. Throws `WebhookVerificationError` otherwise.
 *
 * ```ts
 * const event = verifyWebhook<{ type: string }>(process.env.LC_WEBHOOK_SECRET!, req.headers, rawBody);
 * ```
 */
export function verifyWebhook<T = unknown>(secret: string, headers: HeaderBag, body: string | Buffer, options: VerifyOptions = {}): T {
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError('missing webhook-id, webhook-timestamp or webhook-signature');
  if (!/^[0-9]{1,12}$/.test(timestamp)) throw new WebhookVerificationError('invalid webhook-timestamp');
  const nowSeconds = Math.floor((options.now ?? Date.now()) / 1000);
  const ts = Number(timestamp);
  if (nowSeconds - ts > tolerance) throw new WebhookVerificationError('message timestamp too old');
  if (ts - nowSeconds > tolerance) throw new WebhookVerificationError('message timestamp too new');

  const text = typeof body === 'string' ? body : body.toString('utf8');
  // Signed content is "<id>.<timestamp in seconds>.<body>" (the number, as the reference library signs it).
  const expected = Buffer.from(createHmac('sha256', secretKey(secret)).update(`${id}.${ts}.${text}`, 'utf8').digest('base64'));
  let matched = false;
  // Every entry is compared (no early exit), so the time taken does not tell which one matched.
  for (const entry of signatures.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue; // other schemes (v1a: asymmetric) are not ours
    const given = Buffer.from(entry.slice(comma + 1));
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  if (!matched) throw new WebhookVerificationError('no matching signature');
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new WebhookVerificationError('the signed body is not JSON');
  }
}
