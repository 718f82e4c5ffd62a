import { describe, expect, it } from 'vitest';
import type { LookupOptions } from 'node:dns';
import {
  assertWebhookUrlAllowed,
  guardedLookup,
  isPrivateAddress,
  parseAllowList,
  WebhookUrlNotAllowedError,
  type LookupAll,
  type UrlPolicy,
} from '../src/index.js';

const fakeDns =
  (table: Record<string, string[]>): LookupAll =>
  async (host) => {
    const addresses = table[host];
    if (!addresses) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

const dns = fakeDns({
  'hooks.example.com': ['93.184.216.34'],
  'internal.example.com': ['10.1.2.3'],
  'mixed.example.com': ['93.184.216.34', '192.168.1.10'],
  'metadata.example.com': ['169.254.169.254'],
  'v6.example.com': ['2606:4700::1111'],
  'ula.example.com': ['fd12:3456::1'],
  'onprem.corp': ['10.20.0.5'],
  'cidr.corp': ['10.30.1.1'],
  'dual.example.com': ['93.184.216.34', '2606:4700::1111'],
  'nat64.example.com': ['64:ff9b::a9fe:a9fe'], // 169.254.169.254 through NAT64
});

describe('SSRF address rules', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.255.0.1', true],
    ['10.0.0.1', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['172.32.0.1', false],
    ['192.168.0.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['100.127.255.254', true],
    ['100.128.0.1', false],
    ['0.0.0.0', true],
    ['224.0.0.1', true],
    ['255.255.255.255', true],
    ['8.8.8.8', false],
    ['93.184.216.34', false],
    ['::1', true],
    ['::', true],
    ['fe80::1', true],
    ['febf:ffff::1', true], // the top of fe80::/10
    // Site-local (fec0::/10, deprecated by RFC 3879 but still routed inside some networks).
    ['fec0::1', true],
    ['fed0:1:2::3', true],
    ['feff:ffff::1', true],
    ['ff00::1', true],
    ['fc00::1', true],
    ['fd12:3456::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:8.8.8.8', true],
    ['::ffff:7f00:1', true], // IPv4-mapped, hex form
    // IPv4-translated (::ffff:0:0:0/96, RFC 2765 SIIT; not the mapped ::ffff:0:0/96): refused whatever it embeds.
    ['::ffff:0:7f00:1', true], // 127.0.0.1
    ['::ffff:0:a9fe:a9fe', true], // 169.254.169.254
    ['::ffff:0:808:808', true], // 8.8.8.8
    ['::ffff:0:0:0', true],
    ['::ffff:1:0:0', false], // just outside ::ffff:0:0:0/96
    ['2606:4700::1111', false],
    // IPv4-compatible (deprecated): refused whatever it embeds.
    ['::127.0.0.1', true],
    ['::7f00:1', true],
    ['::8.8.8.8', true],
    // NAT64 (RFC 6052): as private as the IPv4 address it embeds.
    ['64:ff9b::127.0.0.1', true],
    ['64:ff9b::7f00:1', true],
    ['64:ff9b::10.1.2.3', true],
    ['64:ff9b::a9fe:a9fe', true], // 169.254.169.254
    ['64:ff9b::c0a8:101', true], // 192.168.1.1
    ['64:ff9b::ac10:1', true], // 172.16.0.1
    ['64:ff9b::6440:1', true], // 100.64.0.1
    ['64:ff9b::8.8.8.8', false],
    ['64:ff9b::5db8:d822', false], // 93.184.216.34
    ['64:ff9b::ac20:1', false], // 172.32.0.1
    ['64:ff9b:1::a00:1', true], // local-use NAT64 prefix (RFC 8215): always refused
    // 6to4 (RFC 3056): the IPv4 address sits in bits 16-47.
    ['2002:7f00:1::1', true], // 127.0.0.1
    ['2002:a00:1::', true], // 10.0.0.1
    ['2002:a9fe:a9fe::1', true], // 169.254.169.254
    ['2002:c0a8:101:1::1', true], // 192.168.1.1
    ['2002:808:808::1', false], // 8.8.8.8
    ['2002:5db8:d822::1', false], // 93.184.216.34
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', true], // Teredo
    ['2001:4860:4860::8888', false], // just outside 2001::/32
    // A zone id must not hide a link-local address from the rules.
    ['fe80::1%eth0', true],
    ['not-an-ip', true],
  ])('%s is private: %s', (address, expected) => {
    expect(isPrivateAddress(address)).toBe(expected);
  });
});

describe('webhook URL policy', () => {
  const production = { guarded: true, allowList: parseAllowList(['onprem.corp', '10.30.0.0/16']), lookup: dns };
  const development = { guarded: false, allowList: parseAllowList([]), lookup: dns };

  it.each([
    ['https://hooks.example.com/lc', null],
    ['https://v6.example.com/lc', null],
    ['https://[2606:4700::1111]/lc', null],
    ['https://93.184.216.34/lc', null],
    ['https://onprem.corp/hook', null], // allow-listed hostname
    ['https://cidr.corp/hook', null], // resolves into an allow-listed CIDR
    ['http://hooks.example.com/lc', 'must be https'],
    ['http://localhost:3000/lc', 'must be https'],
    ['https://internal.example.com/lc', 'private or reserved address \\(10.1.2.3\\)'],
    ['https://mixed.example.com/lc', 'private or reserved'],
    ['https://metadata.example.com/lc', 'private or reserved'],
    ['https://ula.example.com/lc', 'private or reserved'],
    ['https://127.0.0.1/lc', 'private or reserved'],
    ['https://[::1]/lc', 'private or reserved'],
    ['https://[::ffff:7f00:1]/lc', 'private or reserved'],
    ['https://[::ffff:0:7f00:1]/lc', 'private or reserved'],
    ['https://[fec0::1]/lc', 'private or reserved'],
    ['https://[64:ff9b::7f00:1]/lc', 'private or reserved'],
    ['https://[2002:a9fe:a9fe::1]/lc', 'private or reserved'],
    ['https://[64:ff9b::5db8:d822]/lc', null],
    ['https://nat64.example.com/lc', 'private or reserved address \\(64:ff9b::a9fe:a9fe\\)'],
    ['https://localhost/lc', 'does not resolve'],
    ['https://nowhere.example.com/lc', 'does not resolve'],
    ['https://user:pass@hooks.example.com/lc', 'credentials'],
    ['ftp://hooks.example.com/lc', 'must be https'],
    ['not a url', 'not a valid absolute URL'],
  ])('in production, %s → %s', async (url, error) => {
    const check = assertWebhookUrlAllowed(url, production);
    if (error) {
      await expect(check).rejects.toThrow(new RegExp(error));
      await expect(assertWebhookUrlAllowed(url, production)).rejects.toBeInstanceOf(WebhookUrlNotAllowedError);
    } else {
      await expect(check).resolves.toBeInstanceOf(URL);
    }
  });

  it.each([
    ['http://localhost:3000/lc', null],
    ['http://127.0.0.1:4000/lc', null],
    ['http://[::1]:4000/lc', null],
    ['https://internal.example.com/lc', null], // no address check outside production
    ['http://hooks.example.com/lc', 'must be https'],
    ['http://10.0.0.1/lc', 'must be https'],
  ])('in development, %s → %s', async (url, error) => {
    const check = assertWebhookUrlAllowed(url, development);
    if (error) await expect(check).rejects.toThrow(new RegExp(error));
    else await expect(check).resolves.toBeInstanceOf(URL);
  });

  it('carries the webhook_url_not_allowed code as a 400', async () => {
    const error = await assertWebhookUrlAllowed('https://internal.example.com/', production).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'webhook_url_not_allowed', statusCode: 400 });
  });
});

describe('the connect-time lookup (what a delivery connects to)', () => {
  const production: UrlPolicy = { guarded: true, allowList: parseAllowList(['onprem.corp', '10.30.0.0/16']), lookup: dns };
  const development: UrlPolicy = { guarded: false, allowList: parseAllowList([]), lookup: dns };
  const lookupWith = (policy: UrlPolicy, host: string, options: LookupOptions) =>
    new Promise<unknown>((resolve, reject) =>
      guardedLookup(policy)(host, options, (error, address, family) => (error ? reject(error) : resolve(options.all ? address : { address, family }))),
    );
  const v4 = (address: string) => ({ address, family: 4 });
  const v6 = (address: string) => ({ address, family: 6 });

  it.each<[string, UrlPolicy, string, LookupOptions, unknown]>([
    ['answers every address when Node asks for all', production, 'dual.example.com', { all: true }, [v4('93.184.216.34'), v6('2606:4700::1111')]],
    ['answers the first address otherwise', production, 'dual.example.com', {}, v4('93.184.216.34')],
    ['keeps to the family asked for', production, 'dual.example.com', { family: 6 }, v6('2606:4700::1111')],
    ['lets an allow-listed host through unchecked', production, 'onprem.corp', { all: true }, [v4('10.20.0.5')]],
    ['lets an address in an allow-listed CIDR through', production, 'cidr.corp', { all: true }, [v4('10.30.1.1')]],
    ['checks nothing outside production', development, 'internal.example.com', { all: true }, [v4('10.1.2.3')]],
  ])('%s', async (_name, policy, host, options, expected) => {
    await expect(lookupWith(policy, host, options)).resolves.toEqual(expected);
  });

  it.each<[string, UrlPolicy, string, LookupOptions, RegExp]>([
    ['refuses a private answer', production, 'internal.example.com', { all: true }, /private or reserved address \(10\.1\.2\.3\)/],
    ['refuses a host with one private answer among public ones', production, 'mixed.example.com', {}, /private or reserved address \(192\.168\.1\.10\)/],
    ['refuses the metadata address', production, 'metadata.example.com', { all: true }, /169\.254\.169\.254/],
    ['refuses a private address behind NAT64', production, 'nat64.example.com', { all: true }, /64:ff9b::a9fe:a9fe/],
    ['refuses a host that does not resolve', production, 'nowhere.example.com', { all: true }, /does not resolve/],
    ['keeps the resolver error outside production', development, 'nowhere.example.com', { all: true }, /ENOTFOUND/],
    ['fails when no address of the family asked for exists', production, 'hooks.example.com', { family: 6 }, /ENOTFOUND/],
  ])('%s', async (_name, policy, host, options, error) => {
    await expect(lookupWith(policy, host, options)).rejects.toThrow(error);
  });

  it('refuses with the typed error, so the attempt records the reason', async () => {
    await expect(lookupWith(production, 'internal.example.com', { all: true })).rejects.toBeInstanceOf(WebhookUrlNotAllowedError);
  });
});
