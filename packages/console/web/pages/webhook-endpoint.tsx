import { useState } from 'preact/hooks';
import { api, ApiError, describeError, query } from '../api.ts';
import { Badge, ConfirmDialog, CopyField, ErrorNote, Facts, Link, Loading, PageTitle, useLoad } from '../components/ui.tsx';
import { describeDelivery } from '../explain.ts';
import { formatTime } from '../format.ts';
import type { Page, WebhookDelivery, WebhookEndpoint } from '../types.ts';
import { endpointState } from './webhooks.tsx';

const DELIVERY_TONE = { succeeded: 'ok', pending: 'warn', failed: 'bad' } as const;

function Deliveries(props: { endpoint: WebhookEndpoint; version: number; onReload: () => void }) {
  const [status, setStatus] = useState('');
  const [extra, setExtra] = useState<{ items: WebhookDelivery[]; cursor: string | null } | null>(null);
  const { data, error, loading, reload } = useLoad(async () => {
    setExtra(null);
    return api<Page<WebhookDelivery>>('GET', `/v1/webhook-endpoints/${props.endpoint.id}/deliveries${query({ status, limit: 25 })}`);
  }, [props.endpoint.id, status, props.version]);
  const [note, setNote] = useState<{ tone: 'ok' | 'bad'; text: string } | null>(null);
  const items = [...(data?.data ?? []), ...(extra?.items ?? [])];
  const cursor = extra ? extra.cursor : data?.nextCursor;
  const retry = async (d: WebhookDelivery) => {
    setNote(null);
    try {
      await api('POST', `/v1/webhook-endpoints/${props.endpoint.id}/deliveries/${d.id}/retry`);
      setNote({ tone: 'ok', text: `Delivery of ${d.eventType ?? 'the event'} queued again: it is attempted now.` });
      reload();
      // The attempt runs in a worker: look again shortly for its outcome.
      setTimeout(reload, 1500);
    } catch (e) {
      setNote({ tone: 'bad', text: describeError(e) });
    }
  };
  return (
    <section class="panel" aria-labelledby="deliveries-title">
      <div class="title-row">
        <h2 id="deliveries-title">Deliveries</h2>
        <div class="inline-field">
          <label for="delivery-status">Show</label>
          <select id="delivery-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">All</option>
            <option value="failed">Failed</option>
            <option value="pending">Pending</option>
            <option value="succeeded">Succeeded</option>
          </select>
          <button
            type="button"
            onClick={() => {
              reload();
              props.onReload(); // the endpoint's own state (failing since, disabled) follows its deliveries
            }}
            disabled={loading}
          >
            Reload
          </button>
        </div>
      </div>
      {note && (
        <p class={`note note-${note.tone}`} role={note.tone === 'bad' ? 'alert' : 'status'}>
          {note.text}
        </p>
      )}
      {error !== undefined && <ErrorNote error={error} />}
      {!data && loading && <Loading what="deliveries" />}
      {data && items.length === 0 && <p class="muted">No deliveries{status ? ` with status ${status}` : ''}.</p>}
      {items.length > 0 && (
        <div class="table-wrap">
          <table class="rows">
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">
                  Attempts
                </th>
                <th scope="col" class="num">
                  Response
                </th>
                <th scope="col">What happened</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((d) => (
                <tr key={d.id} data-delivery-id={d.id} data-status={d.status}>
                  <td data-label="Event">
                    <code>{d.eventType ?? '—'}</code>
                  </td>
                  <td data-label="Status">
                    <Badge tone={DELIVERY_TONE[d.status]}>{d.status}</Badge>
                  </td>
                  <td data-label="Attempts" class="num">
                    {d.attempts}
                  </td>
                  <td data-label="Response" class="num">
                    {d.responseStatus ?? '—'}
                  </td>
                  <td data-label="What happened" class="small">
                    {describeDelivery(d)}
                  </td>
                  <td data-label="Created">{formatTime(d.createdAt)}</td>
                  <td data-label="">
                    {d.status !== 'succeeded' && (
                      <button type="button" onClick={() => void retry(d)} aria-label={`Retry the ${d.eventType ?? ''} delivery of ${formatTime(d.createdAt)}`}>
                        Retry
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor && (
        <button
          type="button"
          onClick={async () => {
            const page = await api<Page<WebhookDelivery>>('GET', `/v1/webhook-endpoints/${props.endpoint.id}/deliveries${query({ status, limit: 25, cursor })}`);
            setExtra({ items: [...(extra?.items ?? []), ...page.data], cursor: page.nextCursor });
          }}
        >
          Load older deliveries
        </button>
      )}
    </section>
  );
}

export function WebhookEndpointPage(props: { id: string }) {
  const { data: endpoint, error, loading, reload } = useLoad(() => api<WebhookEndpoint>('GET', `/v1/webhook-endpoints/${props.id}`), [props.id]);
  const [secret, setSecret] = useState<string | null>(null);
  const [confirmRotate, setConfirmRotate] = useState(false);
  const [note, setNote] = useState<{ tone: 'ok' | 'bad'; text: string } | null>(null);
  const [version, setVersion] = useState(0);
  const act = async (what: () => Promise<string>) => {
    setNote(null);
    try {
      setNote({ tone: 'ok', text: await what() });
    } catch (e) {
      setNote({ tone: 'bad', text: describeError(e) });
    }
  };
  const sendTest = () =>
    act(async () => {
      await api('POST', `/v1/webhook-endpoints/${props.id}/test`);
      setVersion((v) => v + 1);
      setTimeout(() => setVersion((v) => v + 1), 1500);
      return 'A webhook.test event is on its way to this endpoint; its delivery shows below.';
    });
  const rotate = () =>
    act(async () => {
      const res = await api<{ secret: string }>('POST', `/v1/webhook-endpoints/${props.id}/rotate-secret`, {});
      setConfirmRotate(false);
      setSecret(res.secret);
      reload();
      return 'Secret rotated. The previous one keeps signing for 24 hours, so receivers can switch over.';
    });
  const toggle = (enabled: boolean) =>
    act(async () => {
      await api('PATCH', `/v1/webhook-endpoints/${props.id}`, { enabled });
      reload();
      return enabled ? 'Enabled: deliveries resume.' : 'Disabled: no deliveries until it is enabled again.';
    });
  return (
    <section>
      <p class="crumbs">
        <Link href="/webhooks">Webhook endpoints</Link> /
      </p>
      {error !== undefined && (
        <>
          <PageTitle>Webhook endpoint</PageTitle>
          {error instanceof ApiError && error.status === 404 ? <p>No such endpoint.</p> : <ErrorNote error={error} />}
        </>
      )}
      {!endpoint && loading && <Loading what="the endpoint" />}
      {endpoint && (
        <>
          <div class="title-row">
            <PageTitle>{endpoint.url}</PageTitle>
            {endpointState(endpoint)}
          </div>
          {secret && (
            <div class="note note-ok">
              <p>
                <strong>New signing secret.</strong> Copy it now: it is not shown again.
              </p>
              <CopyField id="rotated-secret" label="New signing secret" value={secret} />
              <button type="button" onClick={() => setSecret(null)}>
                I have stored it
              </button>
            </div>
          )}
          <section class="panel" aria-labelledby="endpoint-actions">
            <h2 id="endpoint-actions">Actions</h2>
            <div class="actions">
              <button type="button" onClick={sendTest} disabled={!endpoint.enabled}>
                Send a test event
              </button>
              <button type="button" onClick={() => setConfirmRotate(true)}>
                Rotate secret…
              </button>
              {endpoint.enabled ? (
                <button type="button" onClick={() => toggle(false)}>
                  Disable
                </button>
              ) : (
                <button type="button" onClick={() => toggle(true)}>
                  Enable
                </button>
              )}
            </div>
            {note && (
              <p class={`note note-${note.tone}`} role={note.tone === 'bad' ? 'alert' : 'status'}>
                {note.text}
              </p>
            )}
            <Facts
              items={[
                ['Description', endpoint.description ?? '—'],
                ['Events', endpoint.eventTypes.join(', ')],
                ['Tenant', endpoint.tenantExternalId ?? 'every tenant'],
                ['Previous secret signs until', formatTime(endpoint.previousSecretExpiresAt)],
                ['Created', formatTime(endpoint.createdAt)],
              ]}
            />
          </section>
          <Deliveries endpoint={endpoint} version={version} onReload={reload} />
          <ConfirmDialog open={confirmRotate} title="Rotate the signing secret?" confirmLabel="Rotate" onConfirm={rotate} onCancel={() => setConfirmRotate(false)}>
            <p>A new secret is made and shown once. For 24 hours every delivery is signed with both, so your receiver can switch over without missing one.</p>
          </ConfirmDialog>
        </>
      )}
    </section>
  );
}
