import { freePort } from '@lever-connect/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from '../../apps/api/test/helpers.js';
import { startSim, type RunningSim } from '../../apps/lever-sim/src/index.js';
import { connectLever, createConnectSession } from '../support/connect-flow.js';

interface SimGrant {
  id: string;
  account: string;
  status: string;
  revokedReason?: string;
}

/**
 * Grants end at Lever when we are done with them: a disconnect (one connection, or a whole tenant) revokes
 * the grant after deleting its Lever webhooks and before wiping our copy of the tokens, without ever waiting
 * on Lever for long; a code exchange whose access token we cannot use ends on the result page with its code
 * and revokes the grant Lever created. All over HTTP against the simulator, checked at the simulator.
 */
describe('security: grants are revoked at Lever', () => {
  let sim: RunningSim;
  let t: TestApp;
  let base: string;
  const logLines: string[] = [];

  beforeAll(async () => {
    sim = await startSim({ port: 0 });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await buildTestApp(
      {
        LEVER_SIMULATOR_URL: sim.url,
        PUBLIC_BASE_URL: base,
        CONNECT_ALLOWED_ORIGINS: 'https://app.example.com',
        LEVER_WEBHOOK_EVENTS: 'candidateStageChange',
        // Short, so "Lever hangs on the revocation" is quick; a revocation waits at most this (and never 5 s).
        LEVER_HTTP_TIMEOUT_MS: '1500',
      },
      { logTo: { write: (line) => void logLines.push(line) } },
    );
    await t.app.listen({ port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await t?.close();
    await sim?.close();
  });

  const api = (method: string, path: string) => fetch(base + path, { method, headers: bearer(t.adminKey) });
  const simGet = async <T>(path: string): Promise<T> => (await (await fetch(`${sim.url}/__sim${path}`)).json()) as T;
  const grantsOf = (account: string) => simGet<SimGrant[]>(`/grants?account=${account}`);
  const simStats = () => simGet<Record<string, number>>('/stats');
  const simWebhooks = async (account: string) => (await simGet<Array<{ account: string }>>('/webhooks')).filter((w) => w.account === account);
  async function fault(spec: Record<string, unknown>) {
    const res = await fetch(`${sim.url}/__sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
    expect(res.status, await res.clone().text()).toBe(201);
  }

  /** The api's count of revocations with that trigger and result (`/metrics`). */
  async function revocations(trigger: string, result: string): Promise<number> {
    const text = await (await api('GET', '/metrics')).text();
    const line = text.split('\n').find((l) => l.startsWith(`lever_connect_grant_revocations_total{trigger="${trigger}",result="${result}",`));
    return line ? Number(line.split(' ').at(-1)) : 0;
  }

  async function connected(tenant: string, account: string) {
    const outcome = await connectLever({ apiUrl: base, apiKey: t.adminKey, tenant, simAccount: account });
    expect(outcome.result, outcome.callbackBody).toMatchObject({ status: 'success' });
    expect(await grantsOf(account)).toEqual([expect.objectContaining({ status: 'active' })]);
    return outcome.result.connectionId!;
  }

  const stored = (id: string) => t.db.db.prisma.connection.findUniqueOrThrow({ where: { id } });

  describe('on disconnect', () => {
    it('deletes the Lever webhooks, then revokes the grant, then wipes the tokens', async () => {
      const id = await connected('revoke-one', 'acct_revoke_one');
      expect((await api('POST', `/v1/connections/${id}/lever-webhooks/reconcile`)).status).toBe(200);
      expect(await simWebhooks('acct_revoke_one')).toHaveLength(1);
      const before = { stats: await simStats(), metric: await revocations('disconnect', 'revoked') };

      expect((await api('DELETE', `/v1/connections/${id}`)).status).toBe(204);

      // The webhook could only be deleted while the grant was live: gone at Lever proves the order.
      expect(await simWebhooks('acct_revoke_one')).toEqual([]);
      expect(await grantsOf('acct_revoke_one')).toEqual([expect.objectContaining({ status: 'revoked', revokedReason: 'client_revoked' })]);
      expect((await simStats()).revocations).toBe(before.stats.revocations! + 1);
      expect(await stored(id)).toMatchObject({ status: 'disconnected', accessTokenCiphertext: null, refreshTokenCiphertext: null });
      expect(await revocations('disconnect', 'revoked')).toBe(before.metric + 1);

      // Repeating it changes nothing and asks Lever nothing.
      expect((await api('DELETE', `/v1/connections/${id}`)).status).toBe(204);
      expect((await simStats()).revocations).toBe(before.stats.revocations! + 1);
    });

    it('revokes the grant of every connection of a deleted tenant', async () => {
      const a = await connected('revoke-tenant', 'acct_revoke_tenant_a');
      const b = await connected('revoke-tenant', 'acct_revoke_tenant_b');
      const res = await api('DELETE', '/v1/tenants/revoke-tenant');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ disconnected: 2 });
      for (const account of ['acct_revoke_tenant_a', 'acct_revoke_tenant_b']) {
        expect(await grantsOf(account)).toEqual([expect.objectContaining({ status: 'revoked', revokedReason: 'client_revoked' })]);
      }
      for (const id of [a, b]) expect((await stored(id)).status).toBe('disconnected');
    });

    it('still disconnects when Lever answers the revocation with 503, and logs and counts the failure without secrets', async () => {
      const id = await connected('revoke-503', 'acct_revoke_503');
      const before = await revocations('disconnect', 'http_error');
      await fault({ target: 'revoke', kind: '503', matchAccount: 'acct_revoke_503' });

      expect((await api('DELETE', `/v1/connections/${id}`)).status).toBe(204);

      expect(await stored(id)).toMatchObject({ status: 'disconnected', refreshTokenCiphertext: null });
      // Lever refused: the grant stays live there (nothing of ours holds it any more).
      expect(await grantsOf('acct_revoke_503')).toEqual([expect.objectContaining({ status: 'active' })]);
      expect(await revocations('disconnect', 'http_error')).toBe(before + 1);
      const failed = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.connectionId === id && l.msg === 'revoking a grant at Lever failed; it stays live there until it ends');
      expect(failed).toEqual([expect.objectContaining({ level: 40, trigger: 'disconnect', reason: 'http_error', status: 503 })]);
      const secrets = await simGet<{ accessTokens: string[]; refreshTokens: string[] }>('/secrets');
      const logs = logLines.join('');
      expect([...secrets.accessTokens, ...secrets.refreshTokens].filter((s) => logs.includes(s))).toEqual([]);
    });

    it('does not wait on a Lever that hangs or drops the connection', async () => {
      const hung = await connected('revoke-hung', 'acct_revoke_hung');
      const reset = await connected('revoke-reset', 'acct_revoke_reset');
      const before = { timeout: await revocations('disconnect', 'timeout'), network: await revocations('disconnect', 'network_error') };
      await fault({ target: 'revoke', kind: 'timeout', delayMs: 60_000, matchAccount: 'acct_revoke_hung' });
      await fault({ target: 'revoke', kind: 'reset', matchAccount: 'acct_revoke_reset' });

      const started = Date.now();
      expect((await api('DELETE', `/v1/connections/${hung}`)).status).toBe(204);
      // Bounded by LEVER_HTTP_TIMEOUT_MS (1.5 s here), not by Lever's 60 s.
      expect(Date.now() - started).toBeLessThan(5_000);
      expect((await api('DELETE', `/v1/connections/${reset}`)).status).toBe(204);

      for (const id of [hung, reset]) expect((await stored(id)).status).toBe('disconnected');
      expect(await revocations('disconnect', 'timeout')).toBe(before.timeout + 1);
      expect(await revocations('disconnect', 'network_error')).toBe(before.network + 1);
    });

    it('a disconnected connection hands out no token, though Lever kept the grant the failed revocation left', async () => {
      const id = await connected('revoke-kept', 'acct_revoke_kept');
      await fault({ target: 'revoke', kind: '500', matchAccount: 'acct_revoke_kept' });
      expect((await api('DELETE', `/v1/connections/${id}`)).status).toBe(204);
      const token = await api('GET', `/v1/connections/${id}/access-token`);
      expect(token.status).toBe(409);
      expect(((await token.json()) as { error: { code: string } }).error.code).toBe('connection_disconnected');
    });
  });

  describe('a code exchange whose access token we cannot use', () => {
    for (const [kind, code] of [
      ['unreadable_access_token', 'access_token_unreadable'],
      ['wrong_audience', 'access_token_wrong_audience'],
    ] as const) {
      it(`${kind}: the result page shows ${code}, nothing is stored, and the grant is revoked at Lever`, async () => {
        const account = `acct_${kind}`;
        const tenant = `bad-token-${kind}`;
        const before = await revocations('refused_grant', 'revoked');
        await fault({ target: 'token', kind, matchAccount: account });

        const outcome = await connectLever({ apiUrl: base, apiKey: t.adminKey, tenant, simAccount: account });

        expect(outcome.callbackStatus, outcome.callbackBody).toBe(502);
        expect(outcome.callbackBody).toContain(`<code>${code}</code>`);
        expect(outcome.callbackBody).not.toMatch(/\n\s+at |node_modules/);
        expect(outcome.result).toEqual({ status: 'error', error: code });
        expect(await grantsOf(account)).toEqual([expect.objectContaining({ status: 'revoked', revokedReason: 'client_revoked' })]);
        expect(await t.db.db.prisma.connection.count({ where: { tenant: { externalId: tenant } } })).toBe(0);
        expect(await revocations('refused_grant', 'revoked')).toBe(before + 1);
      });
    }

    /** Opens the session's link and lets the simulator approve as `account`: Lever's redirect back, and the browser's cookies. */
    async function approved(connectUrl: string, mode: 'popup' | 'redirect', account: string) {
      const start = await fetch(`${connectUrl}?mode=${mode}`, { redirect: 'manual' });
      expect(start.status).toBe(302);
      const cookies = start.headers
        .getSetCookie()
        .map((c) => c.split(';')[0]!)
        .filter((c) => !c.endsWith('='))
        .join('; ');
      const authorize = new URL(start.headers.get('location')!);
      authorize.searchParams.set('sim_auto_approve', '1');
      authorize.searchParams.set('sim_account', account);
      const back = new URL((await fetch(authorize, { redirect: 'manual' })).headers.get('location')!);
      return { back, cookies };
    }

    it('sends a full-redirect flow back to returnUrl with the code', async () => {
      await fault({ target: 'token', kind: 'wrong_audience', matchAccount: 'acct_bad_token_redirect' });
      const res = await fetch(`${base}/v1/connect-sessions`, {
        method: 'POST',
        headers: { ...bearer(t.adminKey), 'content-type': 'application/json' },
        body: JSON.stringify({ tenant: { externalId: 'bad-token-redirect' }, returnUrl: 'https://app.example.com/settings' }),
      });
      expect(res.status).toBe(201);
      const { back, cookies } = await approved(((await res.json()) as { connectUrl: string }).connectUrl, 'redirect', 'acct_bad_token_redirect');
      const callback = await fetch(back, { redirect: 'manual', headers: { cookie: cookies, accept: 'text/html' } });
      expect(callback.status).toBe(303);
      const location = new URL(callback.headers.get('location')!);
      expect(location.origin + location.pathname).toBe('https://app.example.com/settings');
      expect(Object.fromEntries(location.searchParams)).toEqual({ status: 'error', error: 'access_token_wrong_audience' });
      expect(await grantsOf('acct_bad_token_redirect')).toEqual([expect.objectContaining({ status: 'revoked', revokedReason: 'client_revoked' })]);
      expect(await t.db.db.prisma.connection.count({ where: { tenant: { externalId: 'bad-token-redirect' } } })).toBe(0);
    });

    it('answers a program (no text/html) with the error shape', async () => {
      await fault({ target: 'token', kind: 'unreadable_access_token', matchAccount: 'acct_bad_token_json' });
      const session = await createConnectSession({ apiUrl: base, apiKey: t.adminKey, tenant: 'bad-token-json' });
      const { back, cookies } = await approved(session.connectUrl, 'popup', 'acct_bad_token_json');
      const res = await fetch(back, { redirect: 'manual', headers: { cookie: cookies, accept: 'application/json' } });
      expect(res.status).toBe(502);
      expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'access_token_unreadable', message: expect.any(String) });
      expect(await grantsOf('acct_bad_token_json')).toEqual([expect.objectContaining({ status: 'revoked', revokedReason: 'client_revoked' })]);
    });
  });
});
