import { useState } from 'preact/hooks';
import { api, ApiError, describeError, query } from '../api.ts';
import { Badge, ConfirmDialog, CopyField, ErrorNote, Facts, Link, Loading, PageTitle, StatusBadge, useLoad } from '../components/ui.tsx';
import { describeEvent, explainConnection } from '../explain.ts';
import { formatTime, relative } from '../format.ts';
import type { ApiKey, Connection, DomainEvent, LeverWebhook, Page, Principal, TokenRead } from '../types.ts';

const REFRESH_EVENTS = ['connection.refreshed', 'connection.refresh_failed', 'connection.needs_reauth'];

/** Pages of a list read with the API's cursor, newest first, with a "load more". */
function usePaged<T>(load: (cursor?: string) => Promise<Page<T>>, deps: unknown[]) {
  const [extra, setExtra] = useState<{ items: T[]; cursor: string | null | undefined }>({ items: [], cursor: undefined });
  const first = useLoad(async () => {
    const page = await load();
    setExtra({ items: [], cursor: undefined });
    return page;
  }, deps);
  const nextCursor = extra.cursor === undefined ? first.data?.nextCursor : extra.cursor;
  return {
    ...first,
    items: [...(first.data?.data ?? []), ...extra.items],
    hasMore: !!nextCursor,
    async more() {
      if (!nextCursor) return;
      const page = await load(nextCursor);
      setExtra({ items: [...extra.items, ...page.data], cursor: page.nextCursor });
    },
  };
}

function StatusPanel(props: { connection: Connection }) {
  const why = explainConnection(props.connection);
  return (
    <section class={`status-panel tone-${why.tone}`} aria-labelledby="status-title">
      <h2 id="status-title">
        <Badge tone={why.tone}>{why.headline}</Badge>
      </h2>
      <p class="why">{why.reason}</p>
      <p class="todo">
        <strong>What to do:</strong> {why.action}
      </p>
    </section>
  );
}

function Actions(props: { connection: Connection; onChanged: (c?: Connection) => void }) {
  const c = props.connection;
  const [busy, setBusy] = useState<string>('');
  const [message, setMessage] = useState<{ tone: 'ok' | 'bad'; text: string } | null>(null);
  const [link, setLink] = useState<{ url: string; expiresAt: string } | null>(null);
  const [confirming, setConfirming] = useState(false);

  const run = async (name: string, action: () => Promise<void>) => {
    setBusy(name);
    setMessage(null);
    try {
      await action();
    } catch (error) {
      setMessage({ tone: 'bad', text: describeError(error) });
    } finally {
      setBusy('');
    }
  };
  const refresh = () =>
    run('refresh', async () => {
      try {
        const updated = await api<Connection>('POST', `/v1/connections/${c.id}/refresh`);
        setMessage({ tone: 'ok', text: `Refreshed at ${formatTime(updated.lastRefreshedAt)}.` });
        props.onChanged(updated);
      } catch (error) {
        // Lever's answer changed the connection (needs_reauth, a failure recorded): show it as it is now.
        props.onChanged();
        if (error instanceof ApiError && error.code === 'needs_reauth') {
          setMessage({ tone: 'bad', text: 'Lever refused the refresh: the customer must reconnect (see the status above).' });
          return;
        }
        throw error;
      }
    });
  const reconnectLink = () =>
    run('link', async () => {
      const session = await api<{ connectUrl: string; expiresAt: string }>('POST', '/v1/connect-sessions', {
        tenant: { externalId: c.tenant.externalId },
        connectionId: c.id,
      });
      setLink({ url: session.connectUrl, expiresAt: session.expiresAt });
    });
  const disconnect = () =>
    run('disconnect', async () => {
      await api('DELETE', `/v1/connections/${c.id}`);
      setConfirming(false);
      setMessage({ tone: 'ok', text: 'Disconnected: its tokens are wiped and it is no longer refreshed.' });
      props.onChanged();
    });

  const live = c.status !== 'disconnected';
  return (
    <section class="panel" aria-labelledby="actions-title">
      <h2 id="actions-title">Actions</h2>
      <div class="actions">
        <button type="button" onClick={refresh} disabled={!!busy || c.status !== 'active'} aria-describedby="refresh-hint">
          {busy === 'refresh' ? 'Refreshing…' : 'Refresh now'}
        </button>
        <button type="button" onClick={reconnectLink} disabled={!!busy || !live}>
          {busy === 'link' ? 'Creating…' : 'Create reconnect link'}
        </button>
        <button type="button" class="danger" onClick={() => setConfirming(true)} disabled={!!busy || !live}>
          Disconnect…
        </button>
      </div>
      <p id="refresh-hint" class="muted small">
        {c.status === 'active'
          ? 'Refresh now asks Lever for new tokens at once (joining a refresh already running).'
          : c.status === 'needs_reauth'
            ? 'Only the customer can bring it back: send them a reconnect link.'
            : 'A disconnected connection cannot be refreshed or reconnected.'}
      </p>
      {message && (
        <p class={`note note-${message.tone}`} role={message.tone === 'bad' ? 'alert' : 'status'}>
          {message.text}
        </p>
      )}
      {link && (
        <div class="note">
          <CopyField id="reconnect-link" label="Reconnect link: send it to the customer (single use)" value={link.url} />
          <p class="small muted">
            Valid until {formatTime(link.expiresAt)}. Opening it runs Lever's consent for this same connection; when the customer approves, it is active again under
            the same id.
          </p>
        </div>
      )}
      <ConfirmDialog
        open={confirming}
        title={`Disconnect ${c.tenant.externalId}?`}
        confirmLabel="Disconnect"
        danger
        busy={busy === 'disconnect'}
        onConfirm={disconnect}
        onCancel={() => setConfirming(false)}
      >
        <p>
          The connection to Lever account <code>{c.leverAccountId}</code> is ended here: its tokens are wiped and it is no longer refreshed. Your services get
          <code> connection_disconnected</code> from now on. This cannot be undone.
        </p>
      </ConfirmDialog>
    </section>
  );
}

function Timeline(props: { id: string }) {
  const events = usePaged((cursor) => api<Page<DomainEvent>>('GET', `/v1/events${query({ connectionId: props.id, limit: 20, cursor })}`), [props.id]);
  return (
    <section class="panel" aria-labelledby="timeline-title">
      <h2 id="timeline-title">Timeline</h2>
      {events.error !== undefined && <ErrorNote error={events.error} />}
      {events.loading && !events.data && <Loading />}
      {events.data && events.items.length === 0 && <p class="muted">No events yet.</p>}
      <ol class="timeline">
        {events.items.map((e) => {
          const d = describeEvent(e);
          return (
            <li key={e.id} class={`tone-${d.tone}`} data-type={e.type}>
              <span class="dot" aria-hidden="true" />
              <div>
                <strong>{d.title}</strong> <span class="muted small">{formatTime(e.createdAt)}</span>
                {d.detail && <p class="small">{d.detail}</p>}
              </div>
            </li>
          );
        })}
      </ol>
      {events.hasMore && (
        <button type="button" onClick={() => void events.more()}>
          Load older events
        </button>
      )}
    </section>
  );
}

function Refreshes(props: { connection: Connection }) {
  const c = props.connection;
  const { data } = useLoad(async () => {
    const pages = await Promise.all(REFRESH_EVENTS.map((type) => api<Page<DomainEvent>>('GET', `/v1/events${query({ connectionId: c.id, type, limit: 10 })}`)));
    return pages
      .flatMap((p) => p.data)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .slice(0, 10);
  }, [c.id, c.updatedAt]);
  return (
    <section class="panel" aria-labelledby="refreshes-title">
      <h2 id="refreshes-title">Refreshes</h2>
      <Facts
        items={[
          ['Next refresh', c.nextRefreshAt ? `${formatTime(c.nextRefreshAt)} (${relative(c.nextRefreshAt)})` : c.status === 'active' ? 'not scheduled' : 'none: not refreshed any more'],
          ['Last refreshed', c.lastRefreshedAt ? `${formatTime(c.lastRefreshedAt)} (${relative(c.lastRefreshedAt)})` : 'never'],
          ['Failures in a row', String(c.refreshAttemptCount)],
          ['Last failure', c.lastRefreshFailedAt ? `${formatTime(c.lastRefreshFailedAt)}: ${c.lastRefreshError ?? ''}` : 'none'],
        ]}
      />
      <h3>Recent attempts</h3>
      {data && data.length === 0 && <p class="muted">None recorded yet.</p>}
      {data && data.length > 0 && (
        <ul class="list attempts">
          {data.map((e) => {
            const d = describeEvent(e);
            return (
              <li key={e.id}>
                <Badge tone={d.tone}>{d.title}</Badge> <span class="small">{formatTime(e.createdAt)}</span>
                {e.type !== 'connection.refreshed' && <span class="small muted"> — {d.detail}</span>}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

function TokenReads(props: { id: string; principal: Principal }) {
  const reads = usePaged((cursor) => api<Page<TokenRead>>('GET', `/v1/connections/${props.id}/token-reads${query({ limit: 10, cursor })}`), [props.id]);
  // Key names for an admin (tenant keys cannot list keys): "who" as a name, not an id.
  const keys = useLoad(() => (props.principal.admin ? api<{ data: ApiKey[] }>('GET', '/v1/api-keys') : Promise.resolve({ data: [] as ApiKey[] })), []);
  const who = (id: string | null) => {
    if (!id) return 'unknown key';
    const key = keys.data?.data.find((k) => k.id === id);
    return key ? `${key.name} (${key.prefix}…)` : `key ${id.slice(0, 8)}`;
  };
  return (
    <section class="panel" aria-labelledby="reads-title">
      <h2 id="reads-title">Token reads</h2>
      <p class="muted small">Who asked for this connection's access token, and when (never the token itself).</p>
      {reads.error !== undefined && <ErrorNote error={reads.error} />}
      {reads.data && reads.items.length === 0 && <p class="muted">No token handed out yet.</p>}
      {reads.items.length > 0 && (
        <div class="table-wrap">
          <table class="rows">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Refreshed first</th>
                <th scope="col">Request</th>
              </tr>
            </thead>
            <tbody>
              {reads.items.map((r) => (
                <tr key={r.id}>
                  <td data-label="When">{formatTime(r.createdAt)}</td>
                  <td data-label="Who">{who(r.apiKeyId)}</td>
                  <td data-label="Refreshed first">{r.refreshed ? 'yes' : 'no'}</td>
                  <td data-label="Request">
                    <code class="small">{r.requestId}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {reads.hasMore && (
        <button type="button" onClick={() => void reads.more()}>
          Load older reads
        </button>
      )}
    </section>
  );
}

/** The connection's Lever webhook subscriptions (one per event), their state at Lever, and a reconcile button. */
function LeverWebhooks(props: { id: string }) {
  const { data, error, reload } = useLoad(() => api<{ data: LeverWebhook[] }>('GET', `/v1/connections/${props.id}/lever-webhooks`), [props.id]);
  const [reconciling, setReconciling] = useState<unknown>(undefined);
  const reconcile = async () => {
    try {
      await api('POST', `/v1/connections/${props.id}/lever-webhooks/reconcile`);
      setReconciling(undefined);
      reload();
    } catch (e) {
      setReconciling(e);
    }
  };
  return (
    <section class="panel" aria-labelledby="lever-webhooks-title">
      <h2 id="lever-webhooks-title">Lever webhook subscriptions</h2>
      {error !== undefined && <ErrorNote error={error} />}
      {data && data.data.length === 0 && <p class="muted">No subscriptions.</p>}
      {data && data.data.length > 0 && (
        <div class="table-wrap">
          <table class="rows">
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">State</th>
                <th scope="col">Last event</th>
                <th scope="col">Problem</th>
              </tr>
            </thead>
            <tbody>
              {data.data.map((w) => (
                <tr key={w.id}>
                  <td data-label="Event">
                    <code>{w.event}</code>
                  </td>
                  <td data-label="State">{w.state}</td>
                  <td data-label="Last event">{formatTime(w.lastEventAt)}</td>
                  <td data-label="Problem">{w.failureReason ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data && (
        <button type="button" onClick={reconcile}>
          Reconcile with Lever
        </button>
      )}
      {reconciling !== undefined && <ErrorNote error={reconciling} />}
    </section>
  );
}

export function ConnectionPage(props: { id: string; principal: Principal }) {
  const { data, error, loading, reload } = useLoad(() => api<Connection>('GET', `/v1/connections/${props.id}`), [props.id]);
  const [fresh, setFresh] = useState<Connection | null>(null);
  const c = fresh && fresh.updatedAt >= (data?.updatedAt ?? '') ? fresh : data;
  return (
    <section>
      <p class="crumbs">
        <Link href="/connections">Connections</Link> /
      </p>
      {error !== undefined && (
        <>
          <PageTitle>Connection</PageTitle>
          {error instanceof ApiError && error.status === 404 ? <p>No such connection (or it belongs to another tenant than your key's).</p> : <ErrorNote error={error} />}
        </>
      )}
      {!c && loading && <Loading what="the connection" />}
      {c && (
        <>
          <div class="title-row">
            <PageTitle>
              {c.tenant.externalId} <span class="muted">·</span> <code>{c.leverAccountId}</code>
            </PageTitle>
            <StatusBadge status={c.status} />
          </div>
          <StatusPanel connection={c} />
          <Actions
            connection={c}
            onChanged={(updated) => {
              if (updated) setFresh(updated);
              else {
                setFresh(null);
                reload();
              }
            }}
          />
          <div class="grid-2">
            <section class="panel" aria-labelledby="facts-title">
              <h2 id="facts-title">Details</h2>
              <Facts
                items={[
                  ['Connection id', <code>{c.id}</code>],
                  ['Tenant', props.principal.admin ? <Link href={`/connections?tenant=${encodeURIComponent(c.tenant.externalId)}`}>{c.tenant.externalId}</Link> : c.tenant.externalId],
                  ['Environment', c.environment],
                  ['Lever account', <Link href={`/connections?leverAccountId=${encodeURIComponent(c.leverAccountId)}`}>{c.leverAccountId}</Link>],
                  ['Scopes', c.scopes.join(' ') || '—'],
                  ['Connected', formatTime(c.createdAt)],
                  ['Grant ends', c.grantExpiresAt ? `${formatTime(c.grantExpiresAt)} (${relative(c.grantExpiresAt)})` : '—'],
                  ['Refresh token unused until', formatTime(c.refreshTokenIdleExpiresAt)],
                  ['Access token expires', formatTime(c.accessTokenExpiresAt)],
                ]}
              />
            </section>
            <Refreshes connection={c} />
          </div>
          <Timeline id={c.id} key={`${c.id}-${c.updatedAt}`} />
          <div class="grid-2">
            <TokenReads id={c.id} principal={props.principal} />
            <LeverWebhooks id={c.id} />
          </div>
        </>
      )}
    </section>
  );
}
