/** Minimal HTML templating with escaping; the connect pages are small and must not pull in a framework. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON for embedding inside a <script> element (no `</script>` break-out). */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

export const PAGE_STYLE = `
  :root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: #f5f6f8; color: #1d2330; }
  main { background: #fff; border-radius: 12px; box-shadow: 0 2px 12px rgba(20,30,60,.08); padding: 32px 40px; max-width: 460px; text-align: center; }
  h1 { font-size: 1.25rem; margin: 0 0 8px; }
  p { color: #4a5368; line-height: 1.5; margin: 8px 0; }
  code { background: #f0f2f5; padding: 2px 6px; border-radius: 4px; font-size: .85em; }
  .ok { color: #137a3f; } .err { color: #b3261e; }
`;

export function page(options: { title: string; body: string; nonce?: string; script?: string }): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(options.title)}</title><style>${PAGE_STYLE}</style></head>
<body><main>${options.body}</main>${
    options.script ? `<script nonce="${options.nonce ?? ''}">${options.script}</script>` : ''
  }</body></html>`;
}
