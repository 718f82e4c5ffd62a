import { escapeHtml, page, scriptJson } from './html.js';

export interface ConnectOutcome {
  status: 'success' | 'error';
  connectionId?: string;
  error?: string;
  message?: string;
}

const ERROR_TEXT: Record<string, string> = {
  access_denied: 'You declined the authorization in Lever. Nothing was connected.',
  account_mismatch: 'You signed in to a different Lever account than the one this connection belongs to.',
  state_invalid: 'This sign-in link is unknown, expired or was already used. Start again from the app.',
  state_missing: 'The sign-in response is incomplete. Start again from the app.',
  connect_session_used: 'This connect link was already used.',
  connect_session_expired: 'This connect link has expired. Start again from the app.',
  connect_session_not_found: 'This connect link is not valid.',
  authorization_code_invalid: 'Lever did not accept this sign-in (it was already used or has expired). Start again from the app.',
  code_exchange_failed: 'Lever could not be reached to finish the connection. Try again in a moment.',
  lever_client_rejected: 'Lever refused the credentials of this app. Nothing was connected; its operator has to fix the Lever setup.',
  lever_authorization_error: 'Lever could not complete the authorization. Start again from the app.',
  code_missing: 'The sign-in response from Lever is incomplete. Start again from the app.',
  connection_not_found: 'The connection to reconnect no longer exists. Start again from the app.',
  no_refresh_token: 'Lever did not grant offline access, which keeping the connection alive needs. Start again from the app.',
  connect_conflict: 'Another connection of this Lever account finished at the same time. Try again.',
  access_token_unreadable: 'Lever answered with an access token this app cannot read. Nothing was connected and the authorization was withdrawn; its operator has to check the Lever setup.',
  access_token_wrong_audience: "Lever answered with an access token that is not meant for Lever's API. Nothing was connected and the authorization was withdrawn; its operator has to check the Lever setup.",
};

/**
 * The page the callback answers with. In a popup it posts the outcome to the opener (only to allowed
 * origins) and closes; otherwise it shows the outcome. No secret is ever in it.
 */
export function connectResultPage(outcome: ConnectOutcome, allowedOrigins: string[], nonce: string): string {
  const ok = outcome.status === 'success';
  const message = { type: 'lever-connect:result', status: outcome.status, ...(ok ? { connectionId: outcome.connectionId } : { error: outcome.error }) };
  const text = ok
    ? 'Your Lever account is connected. You can close this window.'
    : (outcome.message ?? ERROR_TEXT[outcome.error ?? ''] ?? 'The connection could not be completed.');
  const script = `(function(){var m=${scriptJson(message)};var o=${scriptJson(allowedOrigins)};
if(window.opener&&!window.opener.closed){o.forEach(function(origin){try{window.opener.postMessage(m,origin)}catch(e){}});setTimeout(function(){window.close()},${ok ? 300 : 1500});}})();`;
  return page({
    title: ok ? 'Lever connected' : 'Lever connection failed',
    nonce,
    script,
    body: `<h1 class="${ok ? 'ok' : 'err'}">${ok ? 'Lever connected' : 'Could not connect Lever'}</h1>
<p>${escapeHtml(text)}</p>${ok ? '' : `<p><code>${escapeHtml(outcome.error ?? 'error')}</code></p>`}`,
  });
}
