import { describe, expect, it } from 'vitest';
import { assertWebhookUrlAllowed, isPrivateAddress, parseAllowList, WebhookUrlNotAllowedError, type LookupAll } from '../src/index.js';

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
    ['fc00::1', true],
    ['fd12:3456::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:8.8.8.8', true],
    ['2606:4700::1111', false],
    ['not-an-ip', true],
  ])('%s is private: %s', (address, expected) => {
    expect(isPrivateAddress(address)).toBe(expected);
  });
});

describe('webhook URL policy', () => {
  const production = { isProduction: true, allowList: parseAllowList(['onprem.corp', '10.30.0.0/16']), lookup: dns };
  const development = { isProduction: false, allowList: parseAllowList([]), lookup: dns };

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
