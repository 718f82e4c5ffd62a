import { useState } from 'preact/hooks';
import { api, describeError } from '../api.ts';
import { Badge, ConfirmDialog, CopyField, ErrorNote, Loading, PageTitle, useLoad } from '../components/ui.tsx';
import { formatTime, relative } from '../format.ts';
import type { ApiKey, Principal } from '../types.ts';

export function ApiKeysPage(props: { principal: Principal }) {
  const { data, error, loading, reload } = useLoad(() => api<{ data: ApiKey[] }>('GET', '/v1/api-keys'), []);
  const [form, setForm] = useState({ name: '', tenantExternalId: '' });
  const [created, setCreated] = useState<{ key: string; apiKey: ApiKey } | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [note, setNote] = useState<{ tone: 'ok' | 'bad'; text: string } | null>(null);
  const create = async (event: Event) => {
    event.preventDefault();
    setNote(null);
    try {
      const res = await api<{ key: string; apiKey: ApiKey }>('POST', '/v1/api-keys', {
        name: form.name.trim(),
        ...(form.tenantExternalId.trim() ? { tenantExternalId: form.tenantExternalId.trim() } : {}),
      });
      setCreated(res);
      setForm({ name: '', tenantExternalId: '' });
      reload();
    } catch (e) {
      setNote({ tone: 'bad', text: describeError(e) });
    }
  };
  const revoke = async () => {
    if (!revoking) return;
    try {
      await api('DELETE', `/v1/api-keys/${revoking.id}`);
      setNote({ tone: 'ok', text: `Revoked ${revoking.name}: it stops working at once, everywhere.` });
      setRevoking(null);
      reload();
    } catch (e) {
      setRevoking(null);
      setNote({ tone: 'bad', text: describeError(e) });
    }
  };
  const own = (k: ApiKey) => k.id === props.principal.apiKeyId;
  return (
    <section>
      <PageTitle>API keys</PageTitle>
      <p class="muted">Keys for your services (and for signing in here). Only a hash of each is stored: a key is shown once, when it is made.</p>
      {created && (
        <div class="note note-ok" role="status">
          <p>
            <strong>Key “{created.apiKey.name}” created.</strong> Copy it now: it is not shown again.
          </p>
          <CopyField id="new-key" label="API key" value={created.key} />
          <button type="button" onClick={() => setCreated(null)}>
            I have stored it
          </button>
        </div>
      )}
      {note && (
        <p class={`note note-${note.tone}`} role={note.tone === 'bad' ? 'alert' : 'status'}>
          {note.text}
        </p>
      )}
      {error !== undefined && <ErrorNote error={error} />}
      {!data && loading && <Loading what="keys" />}
      {data && (
        <div class="table-wrap">
          <table class="rows">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key</th>
                <th scope="col">Sees</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.data.map((k) => (
                <tr key={k.id} data-key-id={k.id}>
                  <td data-label="Name">
                    <div>
                      {k.name}
                      {own(k) && <span class="block small muted">you are signed in with it</span>}
                    </div>
                  </td>
                  <td data-label="Key">
                    <code>{k.prefix}…</code>
                  </td>
                  <td data-label="Sees">{k.tenantExternalId ? `tenant ${k.tenantExternalId}` : 'every tenant (admin)'}</td>
                  <td data-label="Created">{formatTime(k.createdAt)}</td>
                  <td data-label="Last used">{k.lastUsedAt ? relative(k.lastUsedAt) : 'never'}</td>
                  <td data-label="State">{k.revokedAt ? <Badge tone="off">Revoked {formatTime(k.revokedAt)}</Badge> : <Badge tone="ok">Active</Badge>}</td>
                  <td data-label="">
                    {!k.revokedAt && (
                      <button type="button" class="danger" onClick={() => setRevoking(k)} aria-label={`Revoke ${k.name}`}>
                        Revoke…
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <section class="panel" aria-labelledby="create-key">
        <h2 id="create-key">Create a key</h2>
        <form class="stack" onSubmit={create}>
          <div class="field">
            <label for="key-name">Name</label>
            <input id="key-name" required maxLength={200} value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} placeholder="billing-service" />
          </div>
          <div class="field">
            <label for="key-tenant">Tenant (optional)</label>
            <input
              id="key-tenant"
              value={form.tenantExternalId}
              onInput={(e) => setForm({ ...form, tenantExternalId: e.currentTarget.value })}
              placeholder="leave empty for an admin key"
              aria-describedby="key-tenant-hint"
            />
            <p id="key-tenant-hint" class="small muted">
              A tenant key sees that tenant's connections only.
            </p>
          </div>
          <div>
            <button type="submit" class="primary">
              Create key
            </button>
          </div>
        </form>
      </section>
      <ConfirmDialog open={revoking !== null} title={`Revoke ${revoking?.name ?? ''}?`} confirmLabel="Revoke" danger onConfirm={revoke} onCancel={() => setRevoking(null)}>
        <p>Every service using this key gets 401 from now on, and console sessions signed in with it end. This cannot be undone.</p>
        {revoking && own(revoking) && (
          <p>
            <strong>This is the key you are signed in with: you will be signed out.</strong>
          </p>
        )}
      </ConfirmDialog>
    </section>
  );
}
