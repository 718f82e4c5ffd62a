import { render } from 'preact';
import { useEffect } from 'preact/hooks';
import { api } from './api.ts';
import { canSee, type PageName } from './access.ts';
import { Link } from './components/ui.tsx';
import { ApiKeysPage } from './pages/api-keys.tsx';
import { ConnectionPage } from './pages/connection.tsx';
import { ConnectionsPage } from './pages/connections.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { SignInPage } from './pages/sign-in.tsx';
import { WebhookEndpointPage } from './pages/webhook-endpoint.tsx';
import { WebhooksPage } from './pages/webhooks.tsx';
import { navigate, useLocation, type Location } from './router.ts';
import { sessionEnded, signedIn, signedOut, useSession } from './session.ts';
import type { Principal, SessionInfo } from './types.ts';
import './styles.css';

const NAV: Array<{ page: PageName; href: string; label: string }> = [
  { page: 'overview', href: '/', label: 'Overview' },
  { page: 'connections', href: '/connections', label: 'Connections' },
  { page: 'webhooks', href: '/webhooks', label: 'Webhook endpoints' },
  { page: 'api-keys', href: '/api-keys', label: 'API keys' },
];

function route(loc: Location): { page: PageName; id?: string } | null {
  const parts = loc.path.split('/').filter(Boolean);
  if (parts.length === 0) return { page: 'overview' };
  if (parts[0] === 'connections') return parts[1] ? { page: 'connection', id: parts[1] } : { page: 'connections' };
  if (parts[0] === 'webhooks') return parts[1] ? { page: 'webhooks', id: parts[1] } : { page: 'webhooks' };
  if (parts[0] === 'api-keys' && parts.length === 1) return { page: 'api-keys' };
  return null;
}

function Page(props: { loc: Location; principal: Principal }) {
  const r = route(props.loc);
  if (!r) {
    return (
      <section>
        <h1>Not found</h1>
        <p>
          There is no such page. <Link href="/">Go to the overview</Link>.
        </p>
      </section>
    );
  }
  if (!canSee(r.page, props.principal)) {
    return (
      <section>
        <h1>Admin keys only</h1>
        <p>This page needs an admin (unscoped) API key; you are signed in with a key for tenant {props.principal.tenantExternalId}.</p>
      </section>
    );
  }
  switch (r.page) {
    case 'overview':
      return <OverviewPage principal={props.principal} />;
    case 'connections':
      return <ConnectionsPage query={props.loc.query} principal={props.principal} />;
    case 'connection':
      return <ConnectionPage id={r.id!} principal={props.principal} />;
    case 'webhooks':
      return r.id ? <WebhookEndpointPage id={r.id} /> : <WebhooksPage />;
    case 'api-keys':
      return <ApiKeysPage principal={props.principal} />;
  }
}

function Shell(props: { session: SessionInfo; loc: Location }) {
  const { principal } = props.session;
  const r = route(props.loc);
  const current = r?.page === 'connection' ? 'connections' : r?.page;
  const signOut = async () => {
    await api('DELETE', '/console/session').catch(() => undefined);
    signedOut();
    navigate('/sign-in', { replace: true });
  };
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <div class="brand">
          <span class="logo" aria-hidden="true">
            ◆
          </span>{' '}
          lever-connect <span class="muted">console</span>
        </div>
        <nav aria-label="Console">
          <ul>
            {NAV.filter((n) => canSee(n.page, principal)).map((n) => (
              <li key={n.page}>
                <Link href={n.href} aria-current={current === n.page ? 'page' : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span>
            Key <code>{principal.apiKeyPrefix}…</code> · {principal.admin ? 'admin (every tenant)' : `tenant ${principal.tenantExternalId}`}
          </span>
          <button type="button" class="link" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main">
        <Page key={props.loc.path} loc={props.loc} principal={principal} />
      </main>
    </>
  );
}

function App() {
  const { session, signedOutReason } = useSession();
  const loc = useLocation();
  useEffect(() => {
    // 204 (no session) reads as undefined.
    api<SessionInfo | undefined>('GET', '/console/session').then((s) => (s ? signedIn(s) : sessionEnded()), () => sessionEnded());
  }, []);
  useEffect(() => {
    // Signed out while on a page: to the sign-in page, coming back here after.
    if (session === null && loc.path !== '/sign-in') {
      const back = loc.path + (loc.query.toString() ? `?${loc.query}` : '');
      navigate(`/sign-in${back === '/' ? '' : `?next=${encodeURIComponent(back)}`}`, { replace: true });
    }
    if (session && loc.path === '/sign-in') navigate(loc.query.get('next') ?? '/', { replace: true });
  }, [session, loc.path]);
  if (session === undefined) return <p class="muted center">Loading…</p>;
  if (session === null) return <SignInPage reason={signedOutReason} />;
  if (loc.path === '/sign-in') return null;
  return <Shell session={session} loc={loc} />;
}

render(<App />, document.getElementById('app')!);
