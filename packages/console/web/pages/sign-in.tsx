import { useState } from 'preact/hooks';
import { api, ApiError } from '../api.ts';
import { PageTitle } from '../components/ui.tsx';
import { signedIn, type SignedOutReason } from '../session.ts';
import type { SessionInfo } from '../types.ts';

const REASONS: Record<Exclude<SignedOutReason, null>, string> = {
  ended: 'Your session ended: it was idle too long, or its API key was revoked. Sign in again.',
  signed_out: 'You are signed out.',
};

/** Sign-in: an API key exchanged for an HttpOnly session cookie. The key is sent once and never kept. */
export function SignInPage(props: { reason: SignedOutReason }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError('');
    try {
      const session = await api<SessionInfo>('POST', '/console/session', { apiKey: key.trim() });
      setKey('');
      signedIn(session);
    } catch (e) {
      setError(
        e instanceof ApiError && e.status === 401
          ? 'That key is not valid, or it was revoked.'
          : e instanceof ApiError && e.status === 400
            ? 'Paste a whole API key: lc_ followed by 43 characters.'
            : 'Signing in failed; try again.',
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="sign-in">
      <div class="card">
        <p class="brand">
          <span class="logo" aria-hidden="true">
            ◆
          </span>{' '}
          lever-connect <span class="muted">console</span>
        </p>
        <PageTitle>Sign in</PageTitle>
        {props.reason && (
          <p class="note" role="status">
            {REASONS[props.reason]}
          </p>
        )}
        <p class="muted">
          Use an API key (<code>lc_…</code>, from <code>pnpm cli api-key create</code>). An admin key sees every tenant; a tenant key sees its own tenant only.
          The key is exchanged for a session cookie and is not kept in this browser.
        </p>
        <form onSubmit={submit}>
          <label for="api-key">API key</label>
          <input
            id="api-key"
            type="password"
            autocomplete="off"
            spellcheck={false}
            required
            value={key}
            onInput={(e) => setKey(e.currentTarget.value)}
            aria-describedby={error ? 'sign-in-error' : undefined}
            aria-invalid={error ? true : undefined}
          />
          {error && (
            <p id="sign-in-error" class="note note-bad" role="alert">
              {error}
            </p>
          )}
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
      </div>
    </main>
  );
}
