import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureConsoleBuilt } from '@lever-connect/console/build';
import { freePort, waitFor } from '@lever-connect/testing';
import { createDeliverer } from '@lever-connect/webhooks';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectLever } from '../../../test/support/connect-flow.js';
import { CHROMIUM, requireChromium } from './chromium.js';
import { bearer, buildTestApp, type TestApp } from './helpers.js';

/**
 * The operator console in a real Chromium against the simulator over real ports: every page at 1280 and
 * 390 px (screenshots in test-artifacts/console/), signed in with an admin key and with a tenant key, a
 * connection revoked at the simulator and brought back with a reconnect link from the console, a failed
 * webhook delivery retried, a key revoked under a live session. Never skipped: a missing browser is a failure.
 */
const SHOTS = fileURLToPath(new URL('../../../test-artifacts/console/', import.meta.url));
const STEP_TIMEOUT_MS = 60_000;
const WIDTHS = [1280, 390] as const;

describe('the operator console in a real browser', () => {
  let t: TestApp;
  let base: string;
  let context: BrowserContext;
  let userDataDir: string;
  let page: Page;
  /** Problems the page reported (uncaught errors, console errors): each test says which it expects. */
  let problems: string[] = [];
  let receiver: http.Server;
  let receiverUrl: string;
  let receiverStatus = 500;
  let delivering: NodeJS.Timeout | undefined;
  const connections: Record<string, string> = {};

  /** Plays the worker's webhook delivery: attempts every due pending delivery, every 150 ms. */
  function startDeliveries() {
    const deliverer = createDeliverer({ prisma: t.core.prisma, cipher: t.core.cipher, config: t.core.config, log: pino({ level: 'silent' }) });
    let busy = false;
    delivering = setInterval(() => {
      if (busy) return;
      busy = true;
      t.core.prisma.webhookDelivery
        .findMany({ where: { status: 'pending', OR: [{ nextAttemptAt: null }, { nextAttemptAt: { lte: new Date() } }] } })
        .then((due) => Promise.all(due.map((d) => deliverer.deliver(d.id))))
        .catch(() => undefined)
        .finally(() => (busy = false));
    }, 150);
  }

  beforeAll(async () => {
    requireChromium();
    await ensureConsoleBuilt();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // PUBLIC_BASE_URL is the OAuth redirect URI, so it must be exactly where the api listens. One retry of a
    // webhook delivery, at once: the second failure is final.
    t = await buildTestApp({ PUBLIC_BASE_URL: base, WEBHOOK_RETRY_DELAYS_SECONDS: '0' }, { sim: true });
    await t.app.listen({ port, host: '127.0.0.1' });
    receiver = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(receiverStatus).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    startDeliveries();

    // Three customers connected through the real flow: two of tenant-a (the tenant key's), one of tenant-b.
    // acme's is the simulator's default account: the one a browser signs in to when it reconnects.
    for (const [name, tenant, simAccount] of [
      ['acme', 'tenant-a', 'acct_default'],
      ['globex', 'tenant-a', 'acct_globex'],
      ['initech', 'tenant-b', 'acct_initech'],
    ] as const) {
      const outcome = await connectLever({ apiUrl: base, apiKey: t.adminKey, tenant, simAccount });
      expect(outcome.result.status, JSON.stringify(outcome.result)).toBe('success');
      connections[name] = outcome.result.connectionId!;
    }
    // A refresh and a token read, so the timeline, the chart and the audit trail have something to show.
    expect((await t.app.inject({ method: 'POST', url: `/v1/connections/${connections.globex}/refresh`, headers: bearer(t.adminKey) })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: `/v1/connections/${connections.globex}/access-token`, headers: bearer(t.adminKey) })).statusCode).toBe(200);

    userDataDir = mkdtempSync(path.join(tmpdir(), 'lever-connect-console-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    mkdirSync(SHOTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    if (delivering) clearInterval(delivering);
    await context?.close();
    receiver?.closeAllConnections();
    await new Promise((resolve) => receiver?.close(resolve));
    await t?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  /** The page at each width: a full-page screenshot, then back to 1280. */
  async function screenshots(name: string, options: { fullPage?: boolean } = {}) {
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      await page.waitForTimeout(50); // one layout pass
      await page.screenshot({ path: path.join(SHOTS, `${name}-${width}.png`), fullPage: options.fullPage ?? true });
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  }

  /**
   * What a keyboard or screen-reader user needs of a page: every control labelled, every button and link
   * named, nothing wider than the screen at 390 px, and no access token, refresh token, key or webhook
   * secret anywhere in it (`shownOnce` is the one value just created, shown once on purpose).
   */
  async function audit(shownOnce: string[] = []) {
    const unlabelled = await page.evaluate(() => {
      const d = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ id: string; tagName: string; textContent: string | null; getAttribute(n: string): string | null; labels?: ArrayLike<unknown> | null }> } }).document;
      const missing: string[] = [];
      for (const el of Array.from(d.querySelectorAll('input, select, textarea'))) {
        if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label')) missing.push(`${el.tagName}#${el.id}`);
      }
      for (const el of Array.from(d.querySelectorAll('button, a[href]'))) {
        if (!(el.textContent ?? '').trim() && !el.getAttribute('aria-label')) missing.push(`${el.tagName} without a name`);
      }
      return missing;
    });
    expect(unlabelled).toEqual([]);
    const html = await page.content();
    const [tokens, keys] = [await simSecrets(), [t.adminKey, t.tenantKey, ...extraKeys]];
    for (const secret of [...tokens, ...keys, ...webhookSecrets].filter((s) => !shownOnce.includes(s))) {
      expect(html.includes(secret), `a secret (${secret.slice(0, 6)}…) in ${page.url()}`).toBe(false);
    }
    await page.setViewportSize({ width: 390, height: 900 });
    const overflow = await page.evaluate(() => {
      const d = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document;
      return d.documentElement.scrollWidth - d.documentElement.clientWidth;
    });
    await page.setViewportSize({ width: 1280, height: 900 });
    expect(overflow, `${page.url()} is wider than 390 px`).toBeLessThanOrEqual(0);
  }

  const extraKeys: string[] = [];
  const webhookSecrets: string[] = [];
  /** Every access and refresh token the simulator issued. */
  async function simSecrets(): Promise<string[]> {
    const s = (await (await fetch(`${t.sim!.url}/__sim/secrets`)).json()) as { accessTokens: string[]; refreshTokens: string[] };
    return [...s.accessTokens, ...s.refreshTokens];
  }

  async function signIn(key: string) {
    await page.goto(`${base}/console`);
    await page.getByLabel('API key').waitFor();
    // From the keyboard: the field has the focus's first stop after the heading; Enter submits.
    await page.getByLabel('API key').fill(key);
    await page.keyboard.press('Enter');
    await page.getByRole('navigation', { name: 'Console' }).waitFor();
  }

  it(
    'signs in with an admin key and shows the overview of every tenant',
    async () => {
      await page.goto(`${base}/console`);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await audit();
      await screenshots('sign-in');
      // A wrong key is refused in words, without leaving the page.
      await page.getByLabel('API key').fill(`lc_${'x'.repeat(43)}`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();
      expect(problems.filter((p) => !p.includes('401'))).toEqual([]);
      problems = [];

      await signIn(t.adminKey);
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
      const tiles = page.getByRole('list', { name: 'At a glance' });
      await tiles.getByText('Connections', { exact: true }).waitFor();
      expect(await tiles.textContent()).toContain('3Connections');
      expect(await page.locator('.who').textContent()).toContain('admin (every tenant)');
      // The chart counts the refresh made above; its figures are a table too.
      expect(await page.getByRole('img', { name: /Refreshes per hour/ }).getAttribute('aria-labelledby')).toBeTruthy();
      expect(await page.locator('#refresh-chart-title').textContent()).toMatch(/[1-9]\d* refreshed/);
      await page.getByText('Lever 429s seen by the proxy').waitFor();
      await page.getByText('Webhook endpoints failing').first().waitFor();
      await audit();
      await screenshots('overview');

      // On a fresh load the keyboard reaches the skip link first, then the navigation.
      await page.reload();
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } } }).document.activeElement.textContent)).toBe('Skip to content');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } } }).document.activeElement.textContent)).toBe('Overview');
      // Enter on the skip link moves on to the page's content.
      await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Enter');
      expect(new URL(page.url()).hash).toBe('#main');
      expect(problems).toEqual([]);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'lists connections with filters and search, and opens one',
    async () => {
      await page.getByRole('link', { name: 'Connections', exact: true }).click();
      await page.getByRole('heading', { name: 'Connections' }).waitFor();
      await page.locator('tr[data-connection-id]').nth(2).waitFor();
      expect(await page.locator('tr[data-connection-id]').count()).toBe(3);
      await audit();
      await screenshots('connections');

      await page.getByLabel('Search').fill('acct_glo');
      await page.getByRole('button', { name: 'Apply' }).click();
      await waitFor('the search', async () => (await page.locator('tr[data-connection-id]').count()) === 1);
      expect(new URL(page.url()).search).toBe('?q=acct_glo');
      expect(await page.locator('tr[data-connection-id]').getAttribute('data-connection-id')).toBe(connections.globex);
      await page.getByLabel('Search').fill('');
      await page.getByLabel('Tenant').fill('tenant-b');
      await page.getByLabel('Search').press('Enter');
      await page.locator(`tr[data-connection-id="${connections.initech}"]`).waitFor();
      expect(await page.locator('tr[data-connection-id]').count()).toBe(1);
      expect(new URL(page.url()).searchParams.get('tenant')).toBe('tenant-b');
      await page.getByRole('button', { name: 'Clear' }).click();
      await waitFor('every connection again', async () => (await page.locator('tr[data-connection-id]').count()) === 3);
      expect(problems).toEqual([]);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'shows a connection revoked at the simulator as needs_reauth with its reason, and brings it back with a reconnect link under the same id',
    async () => {
      const id = connections.acme!;
      await page.goto(`${base}/console/connections/${id}`);
      await page.getByRole('heading', { name: /tenant-a/ }).waitFor();
      await page.getByText('Healthy').first().waitFor();
      await page.getByRole('heading', { name: 'Timeline' }).waitFor();
      await page.locator('.timeline li[data-type="connection.created"]').waitFor();
      // Lever webhook subscriptions: none, as this deployment subscribes to no Lever events (LEVER_WEBHOOK_EVENTS).
      await page.locator('section[aria-labelledby="lever-webhooks-title"]').getByText('No subscriptions.').waitFor();
      await audit();
      await screenshots('connection-active');

      // The customer uninstalls the app in Lever.
      const grants = (await (await fetch(`${t.sim!.url}/__sim/grants?account=acct_default`)).json()) as Array<{ id: string; status: string }>;
      const grant = grants.find((g) => g.status === 'active')!;
      expect((await fetch(`${t.sim!.url}/__sim/grants/${grant.id}/revoke`, { method: 'POST' })).status).toBeLessThan(300);

      await page.getByRole('button', { name: 'Refresh now' }).click();
      const panel = page.locator('.status-panel');
      await panel.locator('.badge').getByText('Needs reconnect').waitFor();
      expect(await panel.textContent()).toContain('The customer removed the app in Lever or the grant expired.');
      expect(await panel.textContent()).toContain('Send them a reconnect link.');
      await page.getByRole('alert').filter({ hasText: 'must reconnect' }).waitFor();
      await page.locator('.timeline li[data-type="connection.needs_reauth"]').waitFor();
      expect((await t.core.repo.findById(id))!.status).toBe('needs_reauth');
      // The one error the page saw is Lever's refusal (409 needs_reauth), reported in the page itself.
      expect(problems.filter((p) => !p.includes('409'))).toEqual([]);
      problems = [];

      await page.getByRole('button', { name: 'Create reconnect link' }).click();
      const link = await waitFor('the reconnect link', () => page.getByLabel(/Reconnect link/).inputValue());
      expect(link).toMatch(new RegExp(`^${base}/connect/cs_`));
      await audit();
      await screenshots('connection-needs-reauth');

      // The customer opens the link: Lever's consent, then the callback, on a page of their own.
      const customer = await context.newPage();
      try {
        await customer.goto(link);
        await customer.locator('#approve').click();
        await customer.getByRole('heading', { name: 'Lever connected' }).waitFor({ timeout: 15_000 });
      } finally {
        await customer.close();
      }
      await page.reload();
      await page.locator('.status-panel .badge').getByText('Healthy').waitFor();
      expect(new URL(page.url()).pathname).toBe(`/console/connections/${id}`);
      await page.locator('.timeline li[data-type="connection.reauthorized"]').waitFor();
      expect(await t.core.repo.findById(id)).toMatchObject({ status: 'active', reauthReason: null });
      expect(await t.core.prisma.connection.count({ where: { tenant: { externalId: 'tenant-a' } } })).toBe(2);
      await screenshots('connection-reconnected');
      expect(problems).toEqual([]);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'disconnects a connection after a confirmation',
    async () => {
      const id = connections.initech!;
      await page.goto(`${base}/console/connections/${id}`);
      await page.getByRole('button', { name: 'Disconnect…' }).click();
      const dialog = page.getByRole('dialog', { name: /Disconnect tenant-b/ });
      await dialog.waitFor();
      await screenshots('connection-disconnect-confirm', { fullPage: false }); // a modal covers the viewport only
      // Esc cancels, and nothing happened.
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      expect((await t.core.repo.findById(id))!.status).toBe('active');
      await page.getByRole('button', { name: 'Disconnect…' }).click();
      await dialog.getByRole('button', { name: 'Disconnect' }).click();
      await page.locator('.status-panel .badge').getByText('Disconnected').waitFor();
      expect((await t.core.repo.findById(id))!.status).toBe('disconnected');
      expect(await page.getByRole('button', { name: 'Create reconnect link' }).isDisabled()).toBe(true);
      expect(problems).toEqual([]);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'creates a webhook endpoint (its secret shown once), retries a failed delivery, and sends a test',
    async () => {
      await page.getByRole('link', { name: 'Webhook endpoints' }).click();
      await page.getByRole('heading', { name: 'Webhook endpoints' }).waitFor();
      await page.getByLabel('URL').fill(receiverUrl);
      await page.getByLabel('Description (optional)').fill('support backend');
      await page.getByRole('button', { name: 'Create endpoint' }).click();
      const secret = await waitFor('the secret', () => page.getByLabel(/Signing secret for/).inputValue());
      expect(secret).toMatch(/^whsec_/);
      webhookSecrets.push(secret);
      await audit([secret]);
      await screenshots('webhooks-created');
      await page.getByRole('button', { name: 'I have stored it' }).click();
      await audit(); // gone from the page
      await screenshots('webhooks');

      // The receiver fails: a test event's delivery gives up after its retry.
      await page.getByRole('link', { name: receiverUrl }).click();
      await page.getByRole('heading', { name: receiverUrl }).waitFor();
      await page.getByRole('button', { name: 'Send a test event' }).click();
      const row = page.locator('tr[data-delivery-id]').first();
      await waitFor(
        'the delivery to fail',
        async () => {
          await page.getByRole('button', { name: 'Reload' }).click();
          return (await row.getAttribute('data-status')) === 'failed';
        },
        { timeoutMs: 15_000, intervalMs: 500 },
      );
      expect(await row.textContent()).toContain('500');
      expect(await row.textContent()).toContain('Gave up after 2 attempts');
      await audit();
      await screenshots('webhook-endpoint-failed');

      // The receiver is fixed; the operator retries that delivery.
      receiverStatus = 204;
      await row.getByRole('button', { name: /Retry/ }).click();
      await page.getByRole('status').filter({ hasText: 'queued again' }).waitFor();
      await waitFor(
        'the retried delivery to succeed',
        async () => {
          await page.getByRole('button', { name: 'Reload' }).click();
          return (await row.getAttribute('data-status')) === 'succeeded';
        },
        { timeoutMs: 15_000, intervalMs: 500 },
      );
      expect(await row.textContent()).toContain('Delivered (204) after 3 attempts');
      await screenshots('webhook-endpoint');

      // Rotating the secret shows the new one once.
      await page.getByRole('button', { name: 'Rotate secret…' }).click();
      await page.getByRole('dialog', { name: 'Rotate the signing secret?' }).getByRole('button', { name: 'Rotate' }).click();
      const rotated = await waitFor('the new secret', () => page.getByLabel('New signing secret').inputValue());
      expect(rotated).toMatch(/^whsec_/);
      expect(rotated).not.toBe(secret);
      webhookSecrets.push(rotated);
      await page.getByRole('button', { name: 'I have stored it' }).click();
      await audit();
      expect(problems).toEqual([]);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'creates an API key (shown once) and lists keys without them',
    async () => {
      await page.getByRole('link', { name: 'API keys' }).click();
      await page.getByRole('heading', { name: 'API keys' }).waitFor();
      await page.getByLabel('Name').fill('billing-service');
      await page.getByRole('button', { name: 'Create key' }).click();
      const key = await waitFor('the key', () => page.getByLabel('API key').inputValue());
      expect(key).toMatch(/^lc_/);
      extraKeys.push(key);
      await audit([key]);
      await screenshots('api-keys-created');
      await page.getByRole('button', { name: 'I have stored it' }).click();
      await page.locator('tr[data-key-id]').filter({ hasText: 'billing-service' }).waitFor();
      await audit();
      await screenshots('api-keys');
      expect(problems).toEqual([]);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "signs in with a tenant key, which sees its own tenant's connections only",
    async () => {
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await page.getByText('You are signed out.').waitFor();
      await signIn(t.tenantKey);
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
      expect(await page.locator('.who').textContent()).toContain('tenant tenant-a');
      const nav = await page.getByRole('navigation', { name: 'Console' }).textContent();
      expect(nav).toContain('Connections');
      expect(nav).not.toContain('Webhook endpoints');
      expect(nav).not.toContain('API keys');
      await page.getByText('Tenant tenant-a only.').waitFor();
      expect(await page.getByRole('list', { name: 'At a glance' }).textContent()).toContain('2Connections');
      await audit();
      await screenshots('overview-tenant');

      await page.getByRole('link', { name: 'Connections', exact: true }).click();
      await page.locator('tr[data-connection-id]').first().waitFor();
      const ids = await page.locator('tr[data-connection-id]').evaluateAll((rows) => rows.map((r) => (r as unknown as { dataset: { connectionId: string } }).dataset.connectionId));
      expect(ids.sort()).toEqual([connections.acme, connections.globex].sort());
      expect(await page.content()).not.toContain('tenant-b');
      await screenshots('connections-tenant');

      // Another tenant's connection is as if it did not exist, and the admin pages say why they are closed.
      await page.goto(`${base}/console/connections/${connections.initech}`);
      await page.getByText('No such connection').waitFor();
      expect(problems.filter((p) => !p.includes('404'))).toEqual([]);
      problems = [];
      await page.goto(`${base}/console/webhooks`);
      await page.getByRole('heading', { name: 'Admin keys only' }).waitFor();
      expect(problems).toEqual([]);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'signs out at once when its key is revoked',
    async () => {
      const { key, apiKey } = await t.core.apiKeys.create({ name: 'support desk' });
      extraKeys.push(key);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await signIn(key);
      await page.getByRole('link', { name: 'API keys' }).click();
      const row = page.locator(`tr[data-key-id="${apiKey.id}"]`);
      await row.getByText('you are signed in with it').waitFor();
      await row.getByRole('button', { name: 'Revoke support desk' }).click();
      const dialog = page.getByRole('dialog', { name: 'Revoke support desk?' });
      await dialog.getByText('you will be signed out').waitFor();
      await dialog.getByRole('button', { name: 'Revoke' }).click();
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await page.getByText('Your session ended').waitFor();
      await screenshots('signed-out');
      // The revoked key cannot sign in again either.
      await page.getByLabel('API key').fill(key);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();
      // 401s: the page's reload after the revocation, and the refused sign-in.
      expect(problems.filter((p) => !p.includes('401'))).toEqual([]);
      problems = [];

      // And a key revoked elsewhere (the REST API, another process) ends a session on its next request.
      const other = await t.core.apiKeys.create({ name: 'night shift' });
      extraKeys.push(other.key);
      await signIn(other.key);
      await page.getByRole('link', { name: 'Connections', exact: true }).click();
      await page.locator('tr[data-connection-id]').first().waitFor();
      expect((await t.app.inject({ method: 'DELETE', url: `/v1/api-keys/${other.apiKey.id}`, headers: bearer(t.adminKey) })).statusCode).toBe(204);
      await page.getByRole('link', { name: 'Overview' }).click();
      await page.getByText('Your session ended').waitFor();
      expect(problems.filter((p) => !p.includes('401'))).toEqual([]);
    },
    STEP_TIMEOUT_MS,
  );
});
