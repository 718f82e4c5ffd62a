import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { AppError } from '@lever-connect/errors';

export class WebhookUrlNotAllowedError extends AppError {
  constructor(message: string) {
    super('webhook_url_not_allowed', message, 400);
  }
}

/** Addresses a webhook must never reach when guarded: it would let an API caller probe our own network. */
const PRIVATE_V4_SUBNETS: ReadonlyArray<readonly [string, number]> = [
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
];

/** The IPv4 subnet `net/bits` as the IPv6 subnet of a prefix that embeds an IPv4 address at bit `offset`. */
function embeddedV4Subnet(prefix: readonly number[], offset: number, net: string, bits: number): [string, number] {
  const groups = [...prefix, 0, 0, 0, 0, 0, 0, 0, 0].slice(0, 8);
  const [a, b, c, d] = net.split('.').map(Number) as [number, number, number, number];
  groups[offset / 16] = (a << 8) | b;
  groups[offset / 16 + 1] = (c << 8) | d;
  return [groups.map((g) => g.toString(16)).join(':'), offset + bits];
}

// Two lists: Node matches IPv4 addresses against IPv4-mapped IPv6 rules too, so ::ffff:0:0/96 would cover all of IPv4.
const PRIVATE_V4 = new BlockList();
const PRIVATE_V6 = new BlockList();
for (const [net, bits] of PRIVATE_V4_SUBNETS) {
  PRIVATE_V4.addSubnet(net, bits, 'ipv4');
  // Translation prefixes reach the IPv4 address they embed (through a NAT64 gateway or a 6to4 relay, which
  // may sit inside our network), so they are as private as that address: 64:ff9b::10.0.0.1 is 10.0.0.1.
  PRIVATE_V6.addSubnet(...embeddedV4Subnet([0x64, 0xff9b], 96, net, bits), 'ipv6'); // NAT64, RFC 6052
  PRIVATE_V6.addSubnet(...embeddedV4Subnet([0x2002], 16, net, bits), 'ipv6'); // 6to4, RFC 3056
}
for (const [net, bits] of [
  ['::', 96], // unspecified, loopback, and the deprecated IPv4-compatible ::a.b.c.d
  ['::ffff:0:0', 96], // IPv4-mapped: would smuggle any IPv4 address past the v4 rules
  // IPv4-translated (RFC 2765 SIIT, ::ffff:0:a.b.c.d, one group further left than mapped): a translator of
  // the receiver's network, i.e. ours, hands it to the IPv4 address it embeds. No public receiver uses it.
  ['::ffff:0:0:0', 96],
  ['64:ff9b:1::', 48], // NAT64 for local use (RFC 8215): translated by a gateway of the receiver's network, i.e. ours
  ['2001::', 32], // Teredo: tunnels to an IPv4 address (obfuscated, so it cannot be checked); no webhook receiver needs it
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated by RFC 3879, still routed inside networks that never renumbered)
  ['ff00::', 8], // multicast
] as const) {
  PRIVATE_V6.addSubnet(net, bits, 'ipv6');
}

export function isPrivateAddress(address: string): boolean {
  // A zone (fe80::1%eth0) makes BlockList miss every rule; it only ever qualifies link-local addresses.
  const bare = address.split('%')[0]!;
  const family = isIP(bare);
  if (family === 0) return true; // not an address: refuse rather than guess
  return family === 4 ? PRIVATE_V4.check(bare, 'ipv4') : PRIVATE_V6.check(bare, 'ipv6');
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

export interface ResolvedAddress {
  address: string;
  /** 4 or 6. */
  family: number;
}

export type LookupAll = (hostname: string) => Promise<ResolvedAddress[]>;

export const lookupAll: LookupAll = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export interface UrlPolicy {
  /** The SSRF guard (config.webhooks.ssrfGuard): https only, every address public or allow-listed. */
  guarded: boolean;
  allowList: AllowList;
  lookup?: LookupAll;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Syntax rules, without DNS: https (http only for localhost when unguarded), no credentials. */
export function parseWebhookUrl(raw: string, policy: Pick<UrlPolicy, 'guarded'>): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookUrlNotAllowedError('url: not a valid absolute URL');
  }
  if (url.username || url.password) throw new WebhookUrlNotAllowedError('url: credentials in the URL are not allowed');
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && !policy.guarded && LOCAL_HOSTS.has(url.hostname)) return url;
  throw new WebhookUrlNotAllowedError(
    policy.guarded ? 'url: must be https://' : 'url: must be https:// (http:// is allowed for localhost and 127.0.0.1 with ALLOW_INSECURE_DEV)',
  );
}

/** The URL's host as DNS and `net` see it: lower case, IPv6 without its brackets. */
export const bareHost = (hostname: string) => hostname.replace(/^\[|\]$/g, '').toLowerCase();

/**
 * Refuses a host unless every address given for it is public or allow-listed. All, not any: a host that
 * answers one public and one private address must not get a connection to either. Guarded policies only.
 */
export function assertAddressesAllowed(host: string, addresses: readonly ResolvedAddress[], policy: Pick<UrlPolicy, 'allowList'>): void {
  if (addresses.length === 0) throw new WebhookUrlNotAllowedError(`url: the host ${host} does not resolve`);
  for (const { address, family } of addresses) {
    const allowed = policy.allowList.addresses.check(address, family === 6 ? 'ipv6' : 'ipv4');
    if (!allowed && isPrivateAddress(address)) {
      throw new WebhookUrlNotAllowedError(`url: ${host} resolves to a private or reserved address (${address})`);
    }
  }
}

/**
 * The addresses a webhook to `host` may connect to: all it resolves to, once checked when guarded (an
 * allow-listed hostname is not checked). An IP literal is its own answer, without DNS.
 */
export async function resolveAllowedAddresses(host: string, policy: UrlPolicy): Promise<ResolvedAddress[]> {
  const literal = isIP(host);
  const isChecked = policy.guarded && !policy.allowList.hosts.has(host);
  let addresses: ResolvedAddress[];
  try {
    addresses = literal ? [{ address: host, family: literal }] : await (policy.lookup ?? lookupAll)(host);
  } catch (error) {
    // Unchecked, the resolver's own error (ENOTFOUND...) is reported, as a plain connection would.
    if (!isChecked) throw error;
    throw new WebhookUrlNotAllowedError(`url: the host ${host} does not resolve`);
  }
  if (isChecked) assertAddressesAllowed(host, addresses, policy);
  return addresses;
}

/**
 * Checks where a webhook URL leads, when the endpoint is saved. Guarded, every address the host
 * resolves to must be public (or allow-listed). Deliveries do not rely on this answer, since DNS can change
 * by the time they connect: their connections check the address they are about to use (guarded-agent.ts).
 */
export async function assertWebhookUrlAllowed(raw: string, policy: UrlPolicy): Promise<URL> {
  const url = parseWebhookUrl(raw, policy);
  const host = bareHost(url.hostname);
  if (!policy.guarded || policy.allowList.hosts.has(host)) return url;
  await resolveAllowedAddresses(host, policy);
  return url;
}
