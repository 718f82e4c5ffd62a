import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { AppError } from '@lever-connect/errors';

export class WebhookUrlNotAllowedError extends AppError {
  constructor(message: string) {
    super('webhook_url_not_allowed', message, 400);
  }
}

/** Addresses a webhook must never reach in production: it would let an API caller probe our own network. */
// Two lists: Node matches IPv4 addresses against IPv4-mapped IPv6 rules too, so ::ffff:0:0/96 would cover all of IPv4.
const PRIVATE_V4 = new BlockList();
const PRIVATE_V6 = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // CGNAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, incl. cloud metadata 169.254.169.254
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  PRIVATE_V4.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128], // unspecified
  ['::1', 128],
  ['::ffff:0:0', 96], // IPv4-mapped: would smuggle any IPv4 address past the v4 rules
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  PRIVATE_V6.addSubnet(net, bits, 'ipv6');
}

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true; // not an address: refuse rather than guess
  return family === 4 ? PRIVATE_V4.check(address, 'ipv4') : PRIVATE_V6.check(address, 'ipv6');
}

export interface AllowList {
  hosts: Set<string>;
  addresses: BlockList;
}

/** WEBHOOK_ALLOWED_HOSTS: hostnames (exact) or IPs/CIDRs exempt from the private-address refusal. */
export function parseAllowList(entries: readonly string[]): AllowList {
  const hosts = new Set<string>();
  const addresses = new BlockList();
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    const [address, bits] = entry.split('/') as [string, string | undefined];
    const family = isIP(address);
    if (family === 0) {
      hosts.add(entry);
      continue;
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    addresses.addSubnet(address, bits === undefined ? (family === 4 ? 32 : 128) : Number(bits), type);
  }
  return { hosts, addresses };
}

export type LookupAll = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

export const lookupAll: LookupAll = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export interface UrlPolicy {
  isProduction: boolean;
  allowList: AllowList;
  lookup?: LookupAll;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Syntax rules, without DNS: https (http only for localhost outside production), no credentials. */
export function parseWebhookUrl(raw: string, policy: Pick<UrlPolicy, 'isProduction'>): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookUrlNotAllowedError('url: not a valid absolute URL');
  }
  if (url.username || url.password) throw new WebhookUrlNotAllowedError('url: credentials in the URL are not allowed');
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && !policy.isProduction && LOCAL_HOSTS.has(url.hostname)) return url;
  throw new WebhookUrlNotAllowedError(
    policy.isProduction ? 'url: must be https://' : 'url: must be https:// (http:// is allowed for localhost and 127.0.0.1 outside production)',
  );
}

/**
 * Checks where a webhook URL leads. In production every address the host resolves to must be public (or
 * allow-listed); this runs when the endpoint is saved and again before every attempt, since DNS can change.
 */
export async function assertWebhookUrlAllowed(raw: string, policy: UrlPolicy): Promise<URL> {
  const url = parseWebhookUrl(raw, policy);
  if (!policy.isProduction) return url;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (policy.allowList.hosts.has(host)) return url;
  let addresses: Array<{ address: string; family: number }>;
  try {
    addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await (policy.lookup ?? lookupAll)(host);
  } catch {
    throw new WebhookUrlNotAllowedError(`url: the host ${host} does not resolve`);
  }
  if (addresses.length === 0) throw new WebhookUrlNotAllowedError(`url: the host ${host} does not resolve`);
  for (const { address, family } of addresses) {
    const allowed = policy.allowList.addresses.check(address, family === 6 ? 'ipv6' : 'ipv4');
    if (!allowed && isPrivateAddress(address)) {
      throw new WebhookUrlNotAllowedError(`url: ${host} resolves to a private or reserved address (${address})`);
    }
  }
  return url;
}
