import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { REDACT_PATHS, redactUrl } from '../src/index.js';

describe('log redaction', () => {
  it.each([
    ['/connect/cs_abc123?mode=popup', '/connect/[redacted]?[redacted]'],
    ['/connect/cs_abc123/result', '/connect/[redacted]/result'],
    ['/oauth/callback?code=SECRET&state=STATE', '/oauth/callback?[redacted]'],
    ['/v1/connections?tenant=acme', '/v1/connections?tenant=acme'],
  ])('logs %s as %s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });

  it('censors secret-bearing fields wherever they appear', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) });
    const log = pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
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
});
