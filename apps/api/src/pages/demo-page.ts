import type { LeverEnvironment } from '@lever-connect/config';
import { escapeHtml } from './html.js';

export interface DemoPageInput {
  nonce: string;
  /** Initial tenant externalId (from `?tenant=`). */
  tenant: string;
  leverMode: 'simulator' | 'live';
  /** Environments with an OAuth client configured, in menu order. */
  environments: LeverEnvironment[];
}

const STYLE = `
  *, *::before, *::after { box-sizing: border-box; }
  :root { color-scheme: light; --ink: #1d2330; --muted: #5b6478; --faint: #8a92a6; --line: #e4e7ec; --bg: #f5f6f8;
    --accent: #3a48c9; font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
  body { margin: 0; background: var(--bg); color: var(--ink); font-size: 14px; line-height: 1.5; }
  header.top { background: #fff; border-bottom: 1px solid var(--line); }
  .bar { max-width: 1040px; margin: 0 auto; padding: 14px 24px; display: flex; align-items: center; gap: 12px; }
  .logo { width: 28px; height: 28px; border-radius: 7px; background: #1f2633; color: #fff; display: grid; place-items: center;
    font-weight: 800; font-size: 15px; }
  .brand { font-weight: 700; font-size: 15px; letter-spacing: .01em; }
  .pill { margin-left: auto; font-size: 12px; color: #8a5a00; background: #fff4e0; border: 1px solid #f5dcae; padding: 3px 10px;
    border-radius: 999px; }
  .wrap { max-width: 1040px; margin: 0 auto; padding: 28px 24px 48px; }
  h1 { font-size: 24px; line-height: 1.25; margin: 0 0 8px; letter-spacing: -.01em; }
  .lead { color: var(--muted); max-width: 720px; margin: 0 0 24px; font-size: 15px; }
  .grid.below { margin: 16px 0 0; }
  .grid { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; margin-bottom: 16px; }
  @media (max-width: 760px) { .grid { grid-template-columns: 1fr; } }
  .card { background: #fff; border: 1px solid var(--line); border-radius: 12px; padding: 20px 22px; }
  .card h2 { font-size: 15px; margin: 0 0 4px; display: flex; align-items: center; gap: 8px; }
  .step { display: inline-grid; place-items: center; width: 22px; height: 22px; border-radius: 50%; background: #eef0fb;
    color: var(--accent); font-size: 12px; font-weight: 700; }
  .hint { color: var(--muted); margin: 0 0 14px; font-size: 13px; }
  label { display: block; font-size: 12px; font-weight: 600; color: var(--muted); margin: 0 0 4px; }
  .fields { display: grid; grid-template-columns: minmax(0, 1fr) 160px; gap: 12px; }
  input, select { width: 100%; font: inherit; color: inherit; padding: 8px 10px; border: 1px solid #cdd2dc; border-radius: 8px;
    background: #fff; }
  input:focus-visible, select:focus-visible, button:focus-visible { outline: none; border-color: #5b6cf0;
    box-shadow: 0 0 0 3px rgba(91, 108, 240, .25); }
  .connect-row { display: flex; align-items: center; gap: 14px; flex-wrap: wrap; min-height: 44px; }
  .note { font-size: 12px; color: var(--faint); }
  .note.err { color: #b3261e; }
  .banner { display: none; margin: 0 0 16px; padding: 10px 14px; border-radius: 10px; font-size: 13px; }
  .banner.show { display: block; }
  .banner.ok { background: #e8f5ee; border: 1px solid #bfe3cd; color: #0f5e31; }
  .banner.err { background: #fdecea; border: 1px solid #f5c2bd; color: #8c1d16; }
  .table-head { display: flex; align-items: baseline; justify-content: space-between; gap: 12px; margin-bottom: 12px; }
  .table-head .note { white-space: nowrap; }
  table { width: 100%; border-collapse: collapse; }
  th { text-align: left; font-size: 12px; font-weight: 600; color: var(--faint); text-transform: uppercase; letter-spacing: .04em;
    padding: 0 12px 8px 0; border-bottom: 1px solid var(--line); }
  td { padding: 12px 12px 12px 0; border-bottom: 1px solid #f0f2f5; vertical-align: top; }
  tr:last-child td { border-bottom: 0; }
  td.action { text-align: right; padding-right: 0; }
  .badge { display: inline-flex; align-items: center; gap: 6px; font-size: 12px; font-weight: 600; padding: 2px 9px;
    border-radius: 999px; white-space: nowrap; }
  .badge::before { content: ""; width: 6px; height: 6px; border-radius: 50%; background: currentColor; }
  .badge.active { background: #e8f5ee; color: #137a3f; }
  .badge.needs_reauth { background: #fff4e0; color: #a15c00; }
  .badge.disconnected { background: #f0f2f5; color: #5b6478; }
  .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
  .sub { display: block; color: var(--faint); font-size: 12px; }
  .empty { text-align: center; color: var(--muted); padding: 28px 12px; border: 1px dashed #d5d9e2; border-radius: 10px; }
  .empty[hidden] { display: none; }
  details { margin-top: 16px; }
  summary { cursor: pointer; font-weight: 600; }
  pre { background: #1f2633; color: #e6e9f2; padding: 14px 16px; border-radius: 10px; overflow-x: auto; font-size: 12px;
    line-height: 1.6; }
  ol.log { list-style: none; margin: 0; padding: 0; max-height: 140px; overflow-y: auto; }
  ol.log li { font-size: 12px; padding: 4px 0; border-top: 1px solid #f0f2f5; color: var(--muted); }
  ol.log li:first-child { border-top: 0; }
  ol.log b { color: var(--ink); font-weight: 600; }
`;

/** The page's behaviour: sessions, table polling and the button's events. Built with DOM APIs only (no innerHTML). */
const CLIENT_SCRIPT = `
const $ = (id) => document.getElementById(id);
const tenantInput = $('tenant');
const environmentSelect = $('environment');
const button = $('connect');
const sessionNote = $('session-note');
const rows = $('rows');
const table = $('table');
const empty = $('empty');
const updated = $('updated');
const banner = $('banner');
const log = $('log');
const reconnectButtons = new Map();
let sessionRequest = 0;

const tenant = () => tenantInput.value.trim() || 'demo-tenant';

async function createSession(body) {
  const res = await fetch('/demo/api/connect-sessions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error((json.error && json.error.message) || 'HTTP ' + res.status);
  return json;
}

/** A connect session is single use: the button gets a fresh one on load and after each completed flow. */
async function refreshSession() {
  const request = ++sessionRequest;
  button.removeAttribute('session');
  sessionNote.className = 'note';
  sessionNote.textContent = 'Creating a connect session…';
  try {
    const session = await createSession({ tenant: tenant(), environment: environmentSelect.value });
    if (request !== sessionRequest) return;
    button.setAttribute('session', session.connectUrl);
    sessionNote.textContent = 'Connect session ready for “' + tenant() + '” · valid until ' + clock(session.expiresAt);
  } catch (error) {
    if (request !== sessionRequest) return;
    sessionNote.className = 'note err';
    sessionNote.textContent = 'Could not create a connect session: ' + error.message;
  }
}

const clock = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
function relative(iso) {
  const seconds = Math.round((Date.parse(iso) - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 60) return rtf.format(seconds, 'second');
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400 * 2) return rtf.format(Math.round(seconds / 3600), 'hour');
  return rtf.format(Math.round(seconds / 86400), 'day');
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function timeCell(iso, none) {
  if (!iso) return [el('span', 'sub', none)];
  const time = el('time', '', relative(iso));
  time.dateTime = iso;
  time.title = new Date(iso).toLocaleString();
  return [time, el('span', 'sub', clock(iso))];
}

const STATUS_TEXT = { active: 'Active', needs_reauth: 'Needs reconnect', disconnected: 'Disconnected' };

function reconnectButton(connection) {
  let reconnect = reconnectButtons.get(connection.id);
  if (!reconnect) {
    reconnect = document.createElement('lever-connect-button');
    reconnect.setAttribute('label', 'Reconnect');
    reconnect.dataset.connectionId = connection.id;
    reconnectButtons.set(connection.id, reconnect);
    renewReconnect(reconnect);
  }
  return reconnect;
}

async function renewReconnect(reconnect) {
  try {
    const session = await createSession({ tenant: tenant(), connectionId: reconnect.dataset.connectionId });
    reconnect.setAttribute('session', session.connectUrl);
  } catch (error) {
    reconnect.title = 'Could not create a connect session: ' + error.message;
  }
}

const rowsById = new Map();

/** Updates one row in place (keyed by id), so a focused Reconnect button keeps its focus across refreshes. */
function renderRow(connection) {
  let tr = rowsById.get(connection.id);
  if (!tr) {
    tr = el('tr');
    tr.dataset.connectionId = connection.id;
    for (let i = 0; i < 6; i++) tr.append(el('td'));
    tr.lastChild.className = 'action';
    rowsById.set(connection.id, tr);
  }
  tr.dataset.status = connection.status;
  const [status, account, expires, next, last, action] = tr.children;
  status.replaceChildren(el('span', 'badge ' + connection.status, STATUS_TEXT[connection.status] || connection.status));
  if (connection.reauthReason) status.append(el('span', 'sub', connection.reauthReason));
  account.replaceChildren(
    el('span', 'mono', connection.leverAccountId),
    el('span', 'sub', connection.environment + ' · ' + connection.id.slice(0, 8)),
  );
  expires.replaceChildren(...timeCell(connection.accessTokenExpiresAt, '—'));
  next.replaceChildren(...timeCell(connection.nextRefreshAt, connection.status === 'active' ? 'not scheduled' : '—'));
  last.replaceChildren(...timeCell(connection.lastRefreshedAt, 'not yet'));
  const reconnect = reconnectButtons.get(connection.id);
  if (connection.status === 'needs_reauth') {
    if (!reconnect || reconnect.parentNode !== action) action.replaceChildren(reconnectButton(connection));
  } else if (!reconnect || reconnect.state !== 'busy') {
    action.replaceChildren();
    reconnectButtons.delete(connection.id);
  }
  return tr;
}

let loading = false;
async function loadConnections() {
  if (loading) return;
  loading = true;
  try {
    const res = await fetch('/demo/api/connections?tenant=' + encodeURIComponent(tenant()), { cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    const { data } = await res.json();
    const seen = new Set(data.map((c) => c.id));
    for (const [id, tr] of rowsById) {
      if (!seen.has(id)) {
        tr.remove();
        rowsById.delete(id);
        reconnectButtons.delete(id);
      }
    }
    data.forEach((connection, i) => {
      const tr = renderRow(connection);
      if (rows.children[i] !== tr) rows.insertBefore(tr, rows.children[i] || null);
    });
    table.hidden = data.length === 0;
    empty.hidden = data.length > 0;
    updated.className = 'note';
    updated.textContent = 'Updated ' + clock(new Date().toISOString()) + ' · refreshes every 3 s';
  } catch (error) {
    updated.className = 'note err';
    updated.textContent = 'Could not load connections: ' + error.message;
  } finally {
    loading = false;
  }
}

function showBanner(kind, text) {
  banner.className = 'banner show ' + kind;
  banner.textContent = text;
}

function logEvent(event) {
  const item = el('li');
  const detail = event.detail && Object.keys(event.detail).length ? ' ' + JSON.stringify(event.detail) : '';
  item.append(el('b', '', event.type), document.createTextNode(detail + ' · ' + clock(new Date().toISOString())));
  log.prepend(item);
  $('log-empty').hidden = true;
}

// The button's events bubble (and are composed), so one listener sees the main button and every Reconnect.
for (const type of ['lever-connect:success', 'lever-connect:error', 'lever-connect:cancel']) {
  document.addEventListener(type, logEvent);
}
document.addEventListener('lever-connect:success', (event) => {
  const isReconnect = event.target !== button;
  showBanner('ok', (isReconnect ? 'Reconnected' : 'Connected') + ': connection ' + event.detail.connectionId + ' is active.');
  void loadConnections();
  if (isReconnect) reconnectButtons.delete(event.target.dataset.connectionId);
  // Let "Lever connected" show for a moment, then arm the button with a fresh session.
  else {
    sessionNote.className = 'note';
    sessionNote.textContent = 'That session is used up; a fresh one follows in a moment.';
    setTimeout(refreshSession, 2500);
  }
});
document.addEventListener('lever-connect:error', (event) => {
  if (event.target === button) void refreshSession();
  else void renewReconnect(event.target);
});

function useTenant() {
  const url = new URL(location.href);
  url.searchParams.set('tenant', tenant());
  history.replaceState(null, '', url.pathname + url.search);
  void refreshSession();
  void loadConnections();
}
$('tenant-form').addEventListener('submit', (event) => {
  event.preventDefault();
  useTenant();
});
tenantInput.addEventListener('change', useTenant);
environmentSelect.addEventListener('change', refreshSession);

// Back from the redirect fallback (popup blocked): the outcome is in the query.
const back = new URL(location.href);
const status = back.searchParams.get('status');
if (status === 'success') showBanner('ok', 'Connected: connection ' + back.searchParams.get('connection_id') + ' is active.');
else if (status === 'error') showBanner('err', 'Lever was not connected (' + back.searchParams.get('error') + ').');
if (status) {
  for (const key of ['status', 'connection_id', 'error']) back.searchParams.delete(key);
  history.replaceState(null, '', back.pathname + back.search);
}

void refreshSession();
void loadConnections();
setInterval(loadConnections, 3000);
`;

/** The development-only demo page: the button in action against the simulator, with the tenant's connections. */
export function demoPage(input: DemoPageInput): string {
  const { nonce, tenant, environments } = input;
  const simulated = input.leverMode === 'simulator';
  const options = environments
    .map((e) => `<option value="${e}">${e === 'production' ? 'Production' : 'Sandbox'}</option>`)
    .join('');
  const intro = simulated
    ? 'This page runs against the Lever simulator: the popup shows a simulated Lever consent screen, and approving it creates a real connection in this lever-connect instance, with tokens that are refreshed on schedule. It shows what your customers see when they click “Connect Lever” inside your app.'
    : 'This page runs against real Lever (LEVER_ENV=live): approving in the popup connects a real Lever account to this lever-connect instance. It shows what your customers see when they click “Connect Lever” inside your app.';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><link rel="icon" href="data:,">
<title>lever-connect demo</title><style>${STYLE}</style>
<script type="module" src="/connect-button.js"></script>
</head>
<body>
<header class="top"><div class="bar"><div class="logo" aria-hidden="true">L</div><span class="brand">lever-connect</span>
<span class="pill">Demo · Lever simulator only</span></div></header>
<div class="wrap">
<h1>Connect a Lever account</h1>
<p class="lead">${escapeHtml(intro)}</p>
<div id="banner" class="banner" role="status"></div>
<div class="grid">
  <section class="card" aria-labelledby="tenant-title">
    <h2 id="tenant-title"><span class="step">1</span>Choose a tenant</h2>
    <p class="hint">A tenant is one of your customers. Connections belong to a tenant; it is created on first use.</p>
    <form id="tenant-form" class="fields">
      <div><label for="tenant">Tenant (external id)</label>
        <input id="tenant" name="tenant" value="${escapeHtml(tenant)}" maxlength="200" autocomplete="off" spellcheck="false" required></div>
      <div><label for="environment">Lever environment</label>
        <select id="environment" name="environment">${options}</select></div>
    </form>
  </section>
  <section class="card" aria-labelledby="connect-title">
    <h2 id="connect-title"><span class="step">2</span>Connect Lever</h2>
    <p class="hint">The button opens a popup with Lever’s consent screen. Approve to connect, Deny or close it to see the other outcomes.</p>
    <div class="connect-row"><lever-connect-button id="connect"></lever-connect-button>
      <span id="session-note" class="note" aria-live="polite"></span></div>
  </section>
</div>
<section class="card" aria-labelledby="connections-title">
  <div class="table-head"><h2 id="connections-title"><span class="step">3</span>Connections of this tenant</h2>
    <span id="updated" class="note" aria-live="polite"></span></div>
  <p id="empty" class="empty">No connections yet. Click “Connect Lever” above and approve in the popup.</p>
  <table id="table" hidden>
    <thead><tr><th scope="col">Status</th><th scope="col">Lever account</th><th scope="col">Access token expires</th>
      <th scope="col">Next refresh</th><th scope="col">Last refresh</th><th scope="col"><span class="sub">Action</span></th></tr></thead>
    <tbody id="rows"></tbody>
  </table>
</section>
<div class="grid below">
  <section class="card" aria-labelledby="events-title">
    <h2 id="events-title">Button events</h2>
    <p class="hint">What your page receives from <code class="mono">&lt;lever-connect-button&gt;</code>.</p>
    <p id="log-empty" class="note">None yet.</p>
    <ol id="log" class="log"></ol>
  </section>
  <section class="card" aria-labelledby="howto-title">
    <h2 id="howto-title">In your app</h2>
    <p class="hint">Your backend creates a connect session with an API key; your page puts its <code class="mono">connectUrl</code> into the button.</p>
<pre>// 1. your backend, with an API key
POST /v1/connect-sessions
{ "tenant": { "externalId": "acme" } }
  → { "connectUrl": "…", "expiresAt": "…" }

// 2. your page
&lt;lever-connect-button session="{connectUrl}"&gt;
&lt;/lever-connect-button&gt;
button.addEventListener('lever-connect:success',
  (e) =&gt; save(e.detail.connectionId));</pre>
  </section>
</div>
</div>
<script type="module" nonce="${escapeHtml(nonce)}">${CLIENT_SCRIPT}</script>
</body></html>`;
}
