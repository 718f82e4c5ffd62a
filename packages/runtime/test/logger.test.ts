import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactSecrets, redactUrl } from '../src/index.js';

describe('log redaction', () => {
  it.each([
    ['/connect/cs_abc123?mode=popup', '/connect/[redacted]?[redacted]'],
    ['/connect/cs_abc123/result', '/connect/[redacted]/result'],
    ['/oauth/callback?code=SECRET&state=STATE', '/oauth/callback?[redacted]'],
    ['/v1/connections?tenant=acme', '/v1/connections?tenant=acme'],
  ])('logs %s as %s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });

  function capture() {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) });
    return { lines, log: createLogger({ logLevel: 'info', logFormat: 'json' }, 'test', sink) };
  }

  it('censors secret-bearing fields wherever they appear', () => {
    const { lines, log } = capture();
    log.info(
      {
        accessToken: 'TOP',
        tokens: { accessToken: 'AT', refreshToken: 'RT' },
        client: { clientSecret: 'CS' },
        req: { headers: { authorization: 'Bearer lc_x', cookie: 'oauth2-redirect-state=ST' } },
        deep: { a: { b: { refresh_token: 'DEEP' } } },
        body: { nested: { secret: 'whsec_x' } },
      },
      'x',
    );
    const out = lines.join('');
    expect(out).not.toMatch(/TOP|"AT"|"RT"|"CS"|lc_x|ST|DEEP|whsec_x/);
    expect(out).toContain('[redacted]');
  });

  it('censors deeper levels, arrays, error properties and an OAuth code in a query, and keeps other codes', () => {
    const { lines, log } = capture();
    const err = Object.assign(new Error('boom'), { code: 'lever_unavailable', request: { headers: { authorization: 'Bearer ERRTOKEN' } } });
    log.error({ err, list: [{ token: 'INARRAY' }], a: { b: { c: { d: { e: { accessToken: 'FIVE' } } } } }, callback: { query: { code: 'OAUTHCODE', state: 's' } } }, 'x');
    const line = JSON.parse(lines.join('')) as { err: { code: string; message: string }; callback: { query: { state: string } } };
    expect(lines.join('')).not.toMatch(/ERRTOKEN|INARRAY|FIVE|OAUTHCODE/);
    expect(line.err).toMatchObject({ code: 'lever_unavailable', message: 'boom' });
    expect(line.callback.query.state).toBe('s');
  });

  it("logs a request by method and redacted URL only, and a response by status only", () => {
    const { lines, log } = capture();
    log.info({ req: { method: 'GET', url: '/oauth/callback?code=C&state=S', headers: { authorization: 'Bearer lc_x' } } }, 'incoming request');
    log.info({ res: { statusCode: 200, headers: { 'set-cookie': 'a=b' } }, responseTime: 1.5 }, 'request completed');
    const [incoming, completed] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(incoming!.req).toEqual({ method: 'GET', url: '/oauth/callback?[redacted]' });
    expect(completed!.res).toEqual({ statusCode: 200 });
    expect(completed!.responseTime).toBe(1.5);
  });

  it('returns an object without secrets as it is (no copy) and never mutates what it was given', () => {
    const clean = { a: { b: [1, 2] }, buf: Buffer.alloc(1024), at: new Date(0) };
    expect(redactSecrets(clean)).toBe(clean);
    const dirty = { a: { token: 'T' }, b: { c: 1 } };
    const out = redactSecrets(dirty);
    expect(out).toEqual({ a: { token: '[redacted]' }, b: { c: 1 } });
    expect(out.b).toBe(dirty.b);
    expect(dirty.a.token).toBe('T');
  });
});
