import { useEffect, useState } from 'preact/hooks';
import { api, query } from '../api.ts';
import { ErrorNote, Link, Loading, PageTitle, StatusBadge, useLoad } from '../components/ui.tsx';
import { explainConnection } from '../explain.ts';
import { formatTime, relative, shortId } from '../format.ts';
import { navigate } from '../router.ts';
import type { Connection, Page, Principal } from '../types.ts';

const PAGE_SIZE = 50;
const FILTERS = ['q', 'status', 'environment', 'tenant', 'leverAccountId'] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

const filtersOf = (q: URLSearchParams): Filters => Object.fromEntries(FILTERS.flatMap((f) => (q.get(f) ? [[f, q.get(f)!]] : [])));

/**
 * Every connection the key sees, newest first: filters and the search live in the URL (shareable, back
 * button), pages follow the API's keyset cursor, so page 2,000 costs what page 1 does.
 */
export function ConnectionsPage(props: { query: URLSearchParams; principal: Principal }) {
  const filters = filtersOf(props.query);
  const cursor = props.query.get('cursor') ?? undefined;
  // The cursors of the pages before this one (the API pages forward only), kept in history state's stead.
  const [previous, setPrevious] = useState<string[]>([]);
  const [form, setForm] = useState<Filters>(filters);
  const key = JSON.stringify({ filters, cursor });
  // The form follows the URL (back and forward buttons, a link from another page).
  useEffect(() => setForm(filters), [JSON.stringify(filters)]);
  const { data, error, loading } = useLoad(() => api<Page<Connection>>('GET', `/v1/connections${query({ ...filters, limit: PAGE_SIZE, cursor })}`), [key]);

  const go = (next: Filters, nextCursor?: string) => navigate(`/connections${query({ ...next, cursor: nextCursor })}`);
  const submit = (event: Event) => {
    event.preventDefault();
    setPrevious([]);
    go(Object.fromEntries(Object.entries(form).map(([k, v]) => [k, v?.trim()])));
  };
  const field = (name: keyof Filters) => ({
    id: `filter-${name}`,
    name,
    value: form[name] ?? '',
    onInput: (e: Event) => setForm({ ...form, [name]: (e.currentTarget as HTMLInputElement).value }),
  });

  return (
    <section>
      <PageTitle>Connections</PageTitle>
      <form class="filters" onSubmit={submit} role="search" aria-label="Filter connections">
        <div class="field wide">
          <label for="filter-q">Search</label>
          <input {...field('q')} type="search" placeholder="Connection id, tenant or Lever account" autocomplete="off" />
        </div>
        <div class="field">
          <label for="filter-status">Status</label>
          <select {...field('status')} onChange={(e) => setForm({ ...form, status: e.currentTarget.value })}>
            <option value="">Any</option>
            <option value="active">Active</option>
            <option value="needs_reauth">Needs reconnect</option>
            <option value="disconnected">Disconnected</option>
          </select>
        </div>
        <div class="field">
          <label for="filter-environment">Environment</label>
          <select {...field('environment')} onChange={(e) => setForm({ ...form, environment: e.currentTarget.value })}>
            <option value="">Any</option>
            <option value="production">Production</option>
            <option value="sandbox">Sandbox</option>
          </select>
        </div>
        {props.principal.admin && (
          <div class="field">
            <label for="filter-tenant">Tenant</label>
            <input {...field('tenant')} placeholder="externalId" autocomplete="off" />
          </div>
        )}
        <div class="field">
          <label for="filter-leverAccountId">Lever account</label>
          <input {...field('leverAccountId')} placeholder="account id" autocomplete="off" />
        </div>
        <div class="field buttons">
          <button type="submit" class="primary">
            Apply
          </button>
          <button
            type="button"
            onClick={() => {
              setForm({});
              setPrevious([]);
              go({});
            }}
          >
            Clear
          </button>
        </div>
      </form>

      {error !== undefined && <ErrorNote error={error} />}
      {!data && loading && <Loading what="connections" />}
      {data && (
        <>
          <p class="muted" aria-live="polite">
            {data.data.length === 0 ? 'No connection matches.' : `Showing ${data.data.length}${data.nextCursor ? ' (more on the next page)' : ''}.`}
          </p>
          {data.data.length > 0 && (
            <div class="table-wrap">
              <table class="rows">
                <thead>
                  <tr>
                    <th scope="col">Connection</th>
                    <th scope="col">Status</th>
                    <th scope="col">Tenant</th>
                    <th scope="col">Environment</th>
                    <th scope="col">Lever account</th>
                    <th scope="col">Last refreshed</th>
                    <th scope="col">Next refresh</th>
                  </tr>
                </thead>
                <tbody>
                  {data.data.map((c) => {
                    const why = explainConnection(c);
                    return (
                      <tr key={c.id} data-connection-id={c.id} data-status={c.status}>
                        <td data-label="Connection">
                          <Link href={`/connections/${c.id}`}>
                            <code title={c.id}>{shortId(c.id)}</code>
                          </Link>
                        </td>
                        <td data-label="Status">
                          <div>
                            <StatusBadge status={c.status} />
                            {why.tone !== 'ok' && c.status === 'active' && <span class="small muted block">{why.headline}</span>}
                          </div>
                        </td>
                        <td data-label="Tenant">{c.tenant.externalId}</td>
                        <td data-label="Environment">{c.environment}</td>
                        <td data-label="Lever account">
                          <code>{c.leverAccountId}</code>
                        </td>
                        <td data-label="Last refreshed">{c.lastRefreshedAt ? <span title={formatTime(c.lastRefreshedAt)}>{relative(c.lastRefreshedAt)}</span> : '—'}</td>
                        <td data-label="Next refresh">{c.nextRefreshAt ? <span title={formatTime(c.nextRefreshAt)}>{relative(c.nextRefreshAt)}</span> : '—'}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
          <nav class="pager" aria-label="Pages">
            <button
              type="button"
              disabled={!cursor}
              onClick={() => {
                const before = previous.slice(0, -1);
                const target = previous[previous.length - 1];
                setPrevious(before);
                go(filters, target || undefined);
              }}
            >
              ← Newer
            </button>
            <button
              type="button"
              disabled={!data.nextCursor}
              onClick={() => {
                setPrevious([...previous, cursor ?? '']);
                go(filters, data.nextCursor!);
              }}
            >
              Older →
            </button>
          </nav>
        </>
      )}
    </section>
  );
}
