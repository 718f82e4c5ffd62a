import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '@lever-connect/testing';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, requireChromium } from './chromium.js';
import { buildTestApp, type TestApp } from './helpers.js';

/**
 * The demo page and the connect button in a real Chromium, against the simulator over real ports: popup,
 * consent click, OAuth callback, postMessage/polling, the table. Never skipped: a missing browser is a failure.
 */
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const FLOW_TIMEOUT_MS = 60_000;

interface SeenEvent {
  type: string;
  detail: Record<string, string>;
}

describe('the demo page in a real browser', () => {
  let sim: { url: string };
  let t: TestApp;
  let base: string;
  let context: BrowserContext;
  let userDataDir: string;
  const pages: Page[] = [];

  beforeAll(async () => {
    requireChromium();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // PUBLIC_BASE_URL is the OAuth redirect URI, so it must be exactly where the api listens.
    t = await buildTestApp({ PUBLIC_BASE_URL: base, DEMO_ENABLED: 'true' }, { sim: true });
    sim = t.sim!;
    await t.app.listen({ port, host: '127.0.0.1' });
    userDataDir = mkdtempSync(path.join(tmpdir(), 'lever-connect-chromium-'));
    // Playwright owns --user-data-dir (and --headless) through launchPersistentContext's options.
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1200, height: 900 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterEach(async () => {
    await Promise.all(pages.splice(0).map((p) => p.close().catch(() => undefined)));
  });

  afterAll(async () => {
    await context?.close();
    await t?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  /** Opens the demo for a fresh tenant and waits until the button holds a connect session. */
  async function openDemo(tenant: string): Promise<Page> {
    const page = await context.newPage();
    pages.push(page);
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    await page.goto(`${base}/demo?tenant=${encodeURIComponent(tenant)}`);
    await waitFor('the button to get a connect session', () => page.locator('#connect').getAttribute('session'));
    await page.evaluate(() => {
      // Runs in the page (this tsconfig has no DOM lib, hence the narrow casts).
      const g = globalThis as unknown as { seen: SeenEvent[]; document: EventTarget };
      g.seen = [];
      for (const type of ['lever-connect:success', 'lever-connect:error', 'lever-connect:cancel']) {
        g.document.addEventListener(type, (event) => g.seen.push({ type, detail: (event as CustomEvent).detail }));
      }
    });
    expect(problems).toEqual([]);
    return page;
  }

  const seenEvents = (page: Page) => page.evaluate(() => (globalThis as unknown as { seen: SeenEvent[] }).seen);

  /** Records every message the page receives, to prove an outcome did not come by postMessage. */
  async function recordMessages(page: Page): Promise<() => Promise<unknown[]>> {
    await page.evaluate(() => {
      const g = globalThis as unknown as { messages: unknown[]; addEventListener: (type: string, listener: (event: { data: unknown }) => void) => void };
      g.messages = [];
      g.addEventListener('message', (event) => g.messages.push(event.data));
    });
    return () => page.evaluate(() => (globalThis as unknown as { messages: unknown[] }).messages);
  }

  async function clickForPopup(page: Page, selector: string, how: 'click' | 'keyboard' = 'click'): Promise<Page> {
    const press = async () => {
      if (how === 'click') return page.locator(selector).click();
      await page.locator(selector).focus();
      await page.keyboard.press('Enter');
    };
    const [popup] = await Promise.all([page.waitForEvent('popup'), press()]);
    pages.push(popup);
    await popup.waitForSelector('#approve');
    return popup;
  }

  it(
    'connects through the popup: approve in Lever, the connection shows up active',
    async () => {
      const page = await openDemo('browser-approve');
      const popup = await clickForPopup(page, '#connect button.main');
      expect(popup.url()).toContain(sim.url);
      expect(await page.locator('#connect').getAttribute('aria-busy')).toBeNull();
      expect(await page.locator('#connect button.main').getAttribute('aria-busy')).toBe('true');
      await popup.locator('#approve').click();

      const row = page.locator('#rows tr[data-status="active"]');
      await row.waitFor({ timeout: 15_000 });
      const events = await waitFor('the success event', async () => {
        const seen = await seenEvents(page);
        return seen.length ? seen : undefined;
      });
      const connection = await t.db.db.prisma.connection.findFirstOrThrow({ where: { tenant: { externalId: 'browser-approve' } } });
      expect(events).toEqual([{ type: 'lever-connect:success', detail: { connectionId: connection.id } }]);
      expect(connection.status).toBe('active');
      expect(await row.getAttribute('data-connection-id')).toBe(connection.id);
      expect(await row.locator('.badge').textContent()).toBe('Active');
      expect(await row.textContent()).toContain(connection.leverAccountId);
      await waitFor('the popup to close itself', () => popup.isClosed());
      expect(await page.locator('#banner').textContent()).toContain(connection.id);
      expect(await page.locator('#connect').getAttribute('data-state')).toBe('success');
      await page.screenshot({ path: path.join(ARTIFACTS, 'demo-connected.png'), fullPage: true });

      // The button is armed again with a fresh (single-use) session.
      const used = await page.locator('#connect').getAttribute('session');
      await waitFor('a fresh session', async () => {
        const next = await page.locator('#connect').getAttribute('session');
        return next && next !== used && (await page.locator('#connect').getAttribute('data-state')) === 'idle';
      });
    },
    FLOW_TIMEOUT_MS,
  );

  it(
    'reconnects a needs_reauth connection in place from its row',
    async () => {
      const page = await openDemo('browser-reconnect');
      const popup = await clickForPopup(page, '#connect button.main');
      await popup.locator('#approve').click();
      await page.locator('#rows tr[data-status="active"]').waitFor({ timeout: 15_000 });
      const { prisma } = t.db.db;
      const connection = await prisma.connection.findFirstOrThrow({ where: { tenant: { externalId: 'browser-reconnect' } } });
      await prisma.connection.update({ where: { id: connection.id }, data: { status: 'needs_reauth', reauthReason: 'refresh_token_revoked' } });

      const reconnect = page.locator(`#rows tr[data-status="needs_reauth"] lever-connect-button`);
      await reconnect.waitFor({ timeout: 10_000 });
      await waitFor('the Reconnect button to get a session', () => reconnect.getAttribute('session'));
      expect(await page.locator('#rows tr[data-status="needs_reauth"]').textContent()).toContain('refresh_token_revoked');
      await page.screenshot({ path: path.join(ARTIFACTS, 'demo-needs-reauth.png'), fullPage: true });

      const again = await clickForPopup(page, '#rows tr[data-status="needs_reauth"] lever-connect-button button.main');
      await again.locator('#approve').click();
      await page.locator(`#rows tr[data-connection-id="${connection.id}"][data-status="active"]`).waitFor({ timeout: 15_000 });
      expect(await page.locator('#rows tr').count()).toBe(1);
      expect(await prisma.connection.findUniqueOrThrow({ where: { id: connection.id } })).toMatchObject({ status: 'active', reauthReason: null });
    },
    FLOW_TIMEOUT_MS,
  );

  it(
    'shows the error state when the admin denies in Lever, and fires lever-connect:error',
    async () => {
      const page = await openDemo('browser-deny');
      const popup = await clickForPopup(page, '#connect button.main');
      await popup.locator('#deny').click();

      await waitFor('the error state', async () => (await page.locator('#connect').getAttribute('data-state')) === 'error');
      expect(await seenEvents(page)).toEqual([{ type: 'lever-connect:error', detail: { error: 'access_denied' } }]);
      const error = page.locator('#connect .error');
      expect(await error.isVisible()).toBe(true);
      expect(await error.textContent()).toContain('declined');
      expect(await page.locator('#connect button.retry').isVisible()).toBe(true);
      expect(await t.db.db.prisma.connection.count({ where: { tenant: { externalId: 'browser-deny' } } })).toBe(0);
      await page.screenshot({ path: path.join(ARTIFACTS, 'demo-denied.png'), fullPage: true });

      // Retrying after a denial runs a new flow (the page armed the button with a fresh session). The result
      // page closes itself; until then a retry would reuse that window instead of opening a popup.
      await waitFor('the error page to close itself', () => popup.isClosed(), { timeoutMs: 5_000 });
      const retry = await clickForPopup(page, '#connect button.retry');
      await retry.locator('#approve').click();
      await page.locator('#rows tr[data-status="active"]').waitFor({ timeout: 15_000 });
      expect((await seenEvents(page)).map((e) => e.type)).toEqual(['lever-connect:error', 'lever-connect:success']);
    },
    FLOW_TIMEOUT_MS,
  );

  it(
    'starts from the keyboard, and settles as cancel when the popup is closed without an answer',
    async () => {
      const page = await openDemo('browser-cancel');
      const popup = await clickForPopup(page, '#connect button.main', 'keyboard');
      await popup.close();

      const events = await waitFor('the cancel event', async () => {
        const seen = await seenEvents(page);
        return seen.length ? seen : undefined;
      });
      expect(events).toEqual([{ type: 'lever-connect:cancel', detail: {} }]);
      expect(await page.locator('#connect').getAttribute('data-state')).toBe('idle');
      expect(await page.locator('#connect button.main').isEnabled()).toBe(true);
    },
    FLOW_TIMEOUT_MS,
  );

  it(
    'still reports success by polling when Cross-Origin-Opener-Policy severs the popup from the page',
    async () => {
      const page = await openDemo('browser-coop');
      const messages = await recordMessages(page);
      // The callback page arrives with COOP: same-origin, as an operator's proxy (or a future default) might
      // send it: the browser puts the popup in a new browsing context group, window.opener is null there, and
      // the page's postMessage never happens. Only GET /connect/:token/result can tell the button.
      // Playwright cannot intercept the target of a redirect, so the consent's 302 back to the callback is
      // replayed as a fresh navigation, which it can.
      let served = 0;
      await context.route(`${sim.url}/authorize/decision`, async (route) => {
        const decided = await route.fetch({ maxRedirects: 0 });
        const location = decided.headers()['location'];
        if (decided.status() !== 302 || !location?.startsWith(`${base}/oauth/callback`)) return route.fulfill({ response: decided });
        return route.fulfill({ status: 200, contentType: 'text/html', body: `<script>location.replace(${JSON.stringify(location)})</script>` });
      });
      await context.route(`${base}/oauth/callback**`, async (route) => {
        const response = await route.fetch();
        served++;
        await route.fulfill({ response, headers: { ...response.headers(), 'cross-origin-opener-policy': 'same-origin' } });
      });
      try {
        const popup = await clickForPopup(page, '#connect button.main');
        await popup.locator('#approve').click();
        await page.locator('#rows tr[data-status="active"]').waitFor({ timeout: 15_000 });
        const events = await waitFor('the success event', async () => {
          const seen = await seenEvents(page);
          return seen.length ? seen : undefined;
        });
        const connection = await t.db.db.prisma.connection.findFirstOrThrow({ where: { tenant: { externalId: 'browser-coop' } } });
        expect(events).toEqual([{ type: 'lever-connect:success', detail: { connectionId: connection.id } }]);
        expect(served).toBe(1);
        // The outcome came by polling: the result page had no opener to post to.
        expect(await popup.evaluate(() => (globalThis as unknown as { opener: unknown }).opener)).toBeNull();
        expect(await messages()).toEqual([]);
        expect(await popup.locator('h1').textContent()).toBe('Lever connected');
        await popup.screenshot({ path: path.join(ARTIFACTS, 'connect-result-coop.png') });
        expect(await page.locator('#connect').getAttribute('data-state')).toBe('success');
      } finally {
        await context.unroute(`${sim.url}/authorize/decision`);
        await context.unroute(`${base}/oauth/callback**`);
      }
    },
    FLOW_TIMEOUT_MS,
  );

  it(
    'still reports success by polling while the popup stays open when the opener is gone',
    async () => {
      const page = await openDemo('browser-no-opener');
      const messages = await recordMessages(page);
      const popup = await clickForPopup(page, '#connect button.main');
      // Whatever severs it (an extension, a page in between with noopener), the result page finds no opener:
      // it neither posts nor closes, and the popup stays open while the button polls.
      await popup.addInitScript(() => {
        const g = globalThis as unknown as { opener: unknown; location: { pathname: string } };
        if (g.location.pathname === '/oauth/callback') g.opener = null;
      });
      await popup.locator('#approve').click();
      const events = await waitFor('the success event', async () => {
        const seen = await seenEvents(page);
        return seen.length ? seen : undefined;
      });
      const connection = await t.db.db.prisma.connection.findFirstOrThrow({ where: { tenant: { externalId: 'browser-no-opener' } } });
      expect(events).toEqual([{ type: 'lever-connect:success', detail: { connectionId: connection.id } }]);
      await page.locator(`#rows tr[data-connection-id="${connection.id}"][data-status="active"]`).waitFor({ timeout: 10_000 });
      // The button closes the popup itself once polling settled the flow.
      await waitFor('the button to close the popup', () => popup.isClosed());
      expect(await messages()).toEqual([]);
    },
    FLOW_TIMEOUT_MS,
  );

  it(
    'falls back to a full redirect when the popup is blocked, and comes back to the page',
    async () => {
      const page = await openDemo('browser-redirect');
      await page.evaluate(() => {
        (globalThis as unknown as { open: () => null }).open = () => null;
      });
      await page.locator('#connect button.main').click();
      await page.waitForURL((url) => url.origin === sim.url, { timeout: 10_000 });
      await page.locator('#approve').click();
      await page.waitForURL((url) => url.pathname === '/demo', { timeout: 10_000 });
      await page.locator('#rows tr[data-status="active"]').waitFor({ timeout: 10_000 });
      expect(await page.locator('#banner').textContent()).toContain('Connected');
      // The outcome was read from the query and then removed from it; the tenant stays.
      expect(new URL(page.url()).search).toBe('?tenant=browser-redirect');
    },
    FLOW_TIMEOUT_MS,
  );
});
