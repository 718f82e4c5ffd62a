import { useState } from 'preact/hooks';
import { api, describeError } from '../api.ts';
import { Badge, CopyField, ErrorNote, Link, Loading, PageTitle, useLoad } from '../components/ui.tsx';
import { formatTime } from '../format.ts';
import type { WebhookEndpoint } from '../types.ts';

export function endpointState(e: Pick<WebhookEndpoint, 'enabled' | 'disabledReason' | 'failingSince'>) {
  if (!e.enabled) return <Badge tone="bad">Disabled{e.disabledReason ? `: ${e.disabledReason}` : ''}</Badge>;
  if (e.failingSince) return <Badge tone="warn">Failing since {formatTime(e.failingSince)}</Badge>;
  return <Badge tone="ok">Healthy</Badge>;
}

/** The signing secret of a new endpoint: shown here once, right after creation, then never again. */
function NewSecret(props: { endpoint: WebhookEndpoint; secret: string; onDone: () => void }) {
  return (
    <div class="note note-ok" role="status">
      <p>
        <strong>Endpoint created.</strong> Copy its signing secret now: it is not shown again (rotate it to get a new one).
      </p>
      <CopyField id="new-secret" label={`Signing secret for ${props.endpoint.url}`} value={props.secret} />
      <button type="button" onClick={props.onDone}>
        I have stored it
      </button>
    </div>
  );
}

export function WebhooksPage() {
  const { data, error, loading, reload } = useLoad(() => api<{ data: WebhookEndpoint[] }>('GET', '/v1/webhook-endpoints'), []);
  const [form, setForm] = useState({ url: '', description: '', tenantExternalId: '' });
  const [created, setCreated] = useState<{ endpoint: WebhookEndpoint; secret: string } | null>(null);
  const [problem, setProblem] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setProblem('');
    try {
      const res = await api<{ secret: string; endpoint: WebhookEndpoint }>('POST', '/v1/webhook-endpoints', {
        url: form.url.trim(),
        ...(form.description.trim() ? { description: form.description.trim() } : {}),
        ...(form.tenantExternalId.trim() ? { tenantExternalId: form.tenantExternalId.trim() } : {}),
      });
      setCreated(res);
      setForm({ url: '', description: '', tenantExternalId: '' });
      reload();
    } catch (e) {
      setProblem(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  const input = (name: keyof typeof form) => ({
    id: `endpoint-${name}`,
    value: form[name],
    onInput: (e: Event) => setForm({ ...form, [name]: (e.currentTarget as HTMLInputElement).value }),
  });
  return (
    <section>
      <PageTitle>Webhook endpoints</PageTitle>
      <p class="muted">Where lever-connect sends signed events (Standard Webhooks): a customer must reconnect, refreshes keep failing, and more.</p>
      {created && <NewSecret endpoint={created.endpoint} secret={created.secret} onDone={() => setCreated(null)} />}
      {error !== undefined && <ErrorNote error={error} />}
      {!data && loading && <Loading what="endpoints" />}
      {data && data.data.length === 0 && <p class="muted">No endpoint yet.</p>}
      {data && data.data.length > 0 && (
        <div class="table-wrap">
          <table class="rows">
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">State</th>
                <th scope="col">Events</th>
                <th scope="col">Tenant</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {data.data.map((e) => (
                <tr key={e.id} data-endpoint-id={e.id}>
                  <td data-label="URL">
                    <div>
                      <Link href={`/webhooks/${e.id}`}>{e.url}</Link>
                      {e.description && <span class="block small muted">{e.description}</span>}
                    </div>
                  </td>
                  <td data-label="State">{endpointState(e)}</td>
                  <td data-label="Events">{e.eventTypes.length} types</td>
                  <td data-label="Tenant">{e.tenantExternalId ?? 'every tenant'}</td>
                  <td data-label="Created">{formatTime(e.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <section class="panel" aria-labelledby="create-endpoint">
        <h2 id="create-endpoint">Add an endpoint</h2>
        <form class="stack" onSubmit={submit}>
          <div class="field">
            <label for="endpoint-url">URL</label>
            <input {...input('url')} type="url" required placeholder="https://example.com/hooks/lever-connect" aria-describedby="endpoint-url-hint" />
            <p id="endpoint-url-hint" class="small muted">
              https, on a public address (http://localhost is allowed outside production).
            </p>
          </div>
          <div class="field">
            <label for="endpoint-description">Description (optional)</label>
            <input {...input('description')} maxLength={500} />
          </div>
          <div class="field">
            <label for="endpoint-tenantExternalId">Only this tenant's events (optional)</label>
            <input {...input('tenantExternalId')} placeholder="tenant externalId" />
          </div>
          {problem && (
            <p class="note note-bad" role="alert">
              {problem}
            </p>
          )}
          <div>
            <button type="submit" class="primary" disabled={busy}>
              Create endpoint
            </button>
          </div>
        </form>
      </section>
    </section>
  );
}
