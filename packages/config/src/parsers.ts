import { isIP } from 'node:net';

/** Parsers of the values zod reads as plain strings: keys, lists, hosts, proxies. Each reports into `problems`. */

export function parseKey(name: string, value: string, problems: string[]): Buffer | undefined {
  const key = Buffer.from(value, 'base64');
  if (key.length !== 32 || key.toString('base64').replace(/=+$/, '') !== value.replace(/=+$/, '')) {
    problems.push(`${name}: must be 32 random bytes in base64 (e.g. \`openssl rand -base64 32\`)`);
    return undefined;
  }
  return key;
}

export function splitList(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export function isHostOrCidr(entry: string): boolean {
  const [address, bits, ...rest] = entry.split('/');
  if (rest.length > 0 || !address) return false;
  const family = isIP(address);
  if (bits !== undefined) {
    const max = family === 4 ? 32 : family === 6 ? 128 : -1;
    return /^[0-9]{1,3}$/.test(bits) && Number(bits) <= max;
  }
  return family !== 0 || /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(address);
}

/** TRUST_PROXY: `true` (every hop), a number of hops, or a comma-separated list of addresses and CIDR ranges. */
export function parseTrustProxy(raw: string, problems: string[]): boolean | number | string[] {
  const value = raw.trim().toLowerCase();
  if (value === '' || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d{1,2}$/.test(value)) return Number(value);
  const entries = splitList(raw);
  for (const entry of entries) {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const maxBits = family === 6 ? 128 : 32;
    if (family === 0 || extra !== undefined || (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits))) {
      problems.push(`TRUST_PROXY: "${entry}" is not an address or CIDR range (or use true, or a number of hops)`);
    }
  }
  return entries;
}
