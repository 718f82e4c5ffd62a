/**
 * What crosses the proxy, by name, in both directions. An allow-list: our API key (`authorization`),
 * cookies, forwarding and host headers never reach Lever, and Lever's cookies never reach the caller.
 */
const TO_LEVER = new Set(['accept', 'accept-language', 'content-type', 'content-length', 'if-none-match', 'if-modified-since']);
const FROM_LEVER = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'content-disposition',
  'content-language',
  'retry-after',
  'etag',
  'last-modified',
  'cache-control',
  'location',
]);

type HeaderBag = Record<string, string | string[] | undefined>;

function pick(headers: HeaderBag, allowed: ReadonlySet<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!allowed.has(lower) || value === undefined) continue;
    out[lower] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** The caller's headers Lever may see (the access token is added by the proxy itself). */
export const headersToLever = (headers: HeaderBag): Record<string, string> => pick(headers, TO_LEVER);

/** Lever's headers the caller may see. */
export const headersFromLever = (headers: HeaderBag): Record<string, string> => pick(headers, FROM_LEVER);
