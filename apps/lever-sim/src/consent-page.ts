import { describeScope } from './scopes.js';

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `
  *{box-sizing:border-box}
  body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:#f3f4f7;
    font:15px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d2230}
  main{background:#fff;width:min(440px,92vw);border-radius:12px;box-shadow:0 8px 30px rgba(20,30,60,.12);padding:32px}
  .brand{font-weight:700;letter-spacing:.02em;color:#4b5bdc;margin-bottom:18px}
  h1{font-size:20px;margin:0 0 6px}
  p{margin:0 0 16px;color:#4a5062}
  ul{list-style:none;padding:0;margin:0 0 24px;border:1px solid #e5e7ef;border-radius:8px}
  li{padding:10px 14px;border-top:1px solid #e5e7ef}
  li:first-child{border-top:0}
  li small{display:block;color:#8a90a3;font-family:ui-monospace,Menlo,monospace;font-size:12px}
  .actions{display:flex;gap:12px;justify-content:flex-end}
  button{font:inherit;padding:10px 20px;border-radius:8px;border:1px solid #c9cdda;background:#fff;cursor:pointer}
  button#approve{background:#4b5bdc;border-color:#4b5bdc;color:#fff;font-weight:600}
  .note{font-size:12px;color:#8a90a3;margin-top:20px}
`;

function page(title: string, content: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main><div class="brand">Lever</div>${content}</main></body></html>`;
}

export interface ConsentPageInput {
  requestId: string;
  appName: string;
  accountName: string;
  userId: string;
  environment: string;
  scopes: string[];
}

/** The page a Lever admin sees; a browser test clicks `#approve` (or `#deny`). */
export function renderConsentPage(input: ConsentPageInput): string {
  const scopes = input.scopes
    .map((s) => `<li>${escapeHtml(describeScope(s))}<small>${escapeHtml(s)}</small></li>`)
    .join('');
  return page(
    `Authorize ${input.appName}`,
    `<h1>${escapeHtml(input.appName)} wants to access your Lever account</h1>
<p>Account <strong>${escapeHtml(input.accountName)}</strong> (${escapeHtml(input.environment)}), signed in as
<strong>${escapeHtml(input.userId)}</strong>. The app will be able to:</p>
<ul id="scopes">${scopes}</ul>
<form method="post" action="/authorize/decision">
  <input type="hidden" name="request_id" value="${escapeHtml(input.requestId)}">
  <div class="actions">
    <button type="submit" id="deny" name="decision" value="deny">Deny</button>
    <button type="submit" id="approve" name="decision" value="approve">Approve</button>
  </div>
</form>
<p class="note">Lever simulator: no real Lever data is shared.</p>`,
  );
}

/** For a bad client or callback URL: never redirect to an unverified URL, explain on the page instead. */
export function renderErrorPage(title: string, message: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`);
}
