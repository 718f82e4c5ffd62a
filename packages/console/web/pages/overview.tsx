import { api } from '../api.ts';
import { HourlyBars } from '../components/chart.tsx';
import { Badge, ErrorNote, Link, Loading, PageTitle, StatusBadge, useLoad } from '../components/ui.tsx';
import { formatDate, formatTime, plural, relative } from '../format.ts';
import type { Overview, Principal } from '../types.ts';

const STATUSES = ['active', 'needs_reauth', 'disconnected'] as const;
const ENVIRONMENTS = ['production', 'sandbox'] as const;

function Tile(props: { label: string; value: number | string; href?: string; tone?: 'ok' | 'warn' | 'bad' | 'off'; hint: string }) {
  const body = (
    <>
      <span class="tile-value">{typeof props.value === 'number' ? props.value.toLocaleString('en-GB') : props.value}</span>
      <span class="tile-label">{props.label}</span>
      <span class="tile-hint">{props.hint}</span>
    </>
  );
  return <li class={`tile tile-${props.tone ?? 'off'}`}>{props.href ? <Link href={props.href}>{body}</Link> : body}</li>;
}

export function OverviewPage(props: { principal: Principal }) {
  const { data, error, loading, reload } = useLoad(() => api<Overview>('GET', '/v1/overview'), []);
  const count = (status: string, environment?: string) =>
    data?.connections.byStatus.filter((g) => g.status === status && (!environment || g.environment === environment)).reduce((sum, g) => sum + g.count, 0) ?? 0;
  const rateLimited = data?.leverRateLimited?.reduce((sum, h) => sum + h.count, 0);
  return (
    <section>
      <div class="title-row">
        <PageTitle>Overview</PageTitle>
        <button type="button" onClick={reload} disabled={loading}>
          Refresh
        </button>
      </div>
      <p class="muted">
        {props.principal.admin ? 'Every tenant.' : `Tenant ${props.principal.tenantExternalId} only.`}
        {data && ` As of ${formatTime(data.generatedAt)}.`}
      </p>
      {error !== undefined && <ErrorNote error={error} />}
      {!data && loading && <Loading what="the overview" />}
      {data && (
        <>
          <ul class="tiles" aria-label="At a glance">
            <Tile
              label="Connections"
              value={data.connections.total - count('disconnected')}
              hint={count('disconnected') ? `and ${plural(count('disconnected'), 'disconnected one')}` : 'Active or waiting for a reconnect'}
              href="/connections"
            />
            <Tile
              label="Need a reconnect"
              value={count('needs_reauth')}
              tone={count('needs_reauth') ? 'bad' : 'ok'}
              hint="The customer must connect again"
              href="/connections?status=needs_reauth"
            />
            <Tile label="Refreshes failing" value={data.connections.failing} tone={data.connections.failing ? 'warn' : 'ok'} hint="Transient: retried, grant kept" />
            <Tile
              label={`Grants ending within ${data.expiring.withinDays} days`}
              value={data.expiring.count}
              tone={data.expiring.count ? 'warn' : 'ok'}
              hint="Send a reconnect link before then"
            />
            {data.webhookEndpoints && (
              <Tile
                label="Webhook endpoints failing"
                value={data.webhookEndpoints.failing + data.webhookEndpoints.disabled}
                tone={data.webhookEndpoints.failing + data.webhookEndpoints.disabled ? 'bad' : 'ok'}
                hint={`of ${plural(data.webhookEndpoints.total, 'endpoint')}`}
                href="/webhooks"
              />
            )}
            {rateLimited !== undefined && (
              <Tile label="Lever 429s (24 h)" value={rateLimited} tone={rateLimited ? 'warn' : 'ok'} hint="Should stay at zero" />
            )}
          </ul>

          <div class="grid-2">
            <section class="panel" aria-labelledby="by-status">
              <h2 id="by-status">Connections by status</h2>
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Status</th>
                      {ENVIRONMENTS.map((e) => (
                        <th scope="col" class="num" key={e}>
                          {e === 'production' ? 'Production' : 'Sandbox'}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {STATUSES.map((s) => (
                      <tr key={s}>
                        <th scope="row">
                          <StatusBadge status={s} />
                        </th>
                        {ENVIRONMENTS.map((e) => (
                          <td class="num" key={e}>
                            <Link href={`/connections?status=${s}&environment=${e}`}>{count(s, e).toLocaleString('en-GB')}</Link>
                          </td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </section>

            <section class="panel" aria-labelledby="expiring">
              <h2 id="expiring">Grants ending within {data.expiring.withinDays} days</h2>
              {data.expiring.count === 0 ? (
                <p class="muted">None. Lever ends every grant a year after it was made; they show up here two weeks before.</p>
              ) : (
                <ul class="list">
                  {data.expiring.data.map((c) => (
                    <li key={c.id}>
                      <Link href={`/connections/${c.id}`}>
                        {c.tenant.externalId} · {c.leverAccountId}
                      </Link>{' '}
                      <span class="muted">
                        ({c.environment}) ends {formatDate(c.grantExpiresAt)}, {relative(c.grantExpiresAt)}
                      </span>
                    </li>
                  ))}
                  {data.expiring.count > data.expiring.data.length && <li class="muted">…and {data.expiring.count - data.expiring.data.length} more.</li>}
                </ul>
              )}
            </section>
          </div>

          <section class="panel" aria-labelledby="refreshes">
            <h2 id="refreshes">Refreshes over the last 24 hours</h2>
            <HourlyBars
              id="refresh-chart"
              title="Refreshes per hour, last 24 hours"
              hours={data.refreshes}
              series={[
                { key: 'refreshed', label: 'Refreshed', class: 's-ok' },
                { key: 'failed', label: 'Failed (retried)', class: 's-warn' },
                { key: 'needsReauth', label: 'Needs reconnect', class: 's-bad' },
              ]}
            />
          </section>

          {(data.webhookEndpoints || data.leverRateLimited) && (
            <div class="grid-2">
              {data.webhookEndpoints && (
                <section class="panel" aria-labelledby="failing-endpoints">
                  <h2 id="failing-endpoints">Webhook endpoints failing</h2>
                  {data.webhookEndpoints.data.length === 0 ? (
                    <p class="muted">None: every endpoint takes its deliveries.</p>
                  ) : (
                    <ul class="list">
                      {data.webhookEndpoints.data.map((e) => (
                        <li key={e.id}>
                          <Link href={`/webhooks/${e.id}`}>{e.url}</Link>{' '}
                          {e.enabled ? <Badge tone="warn">Failing since {formatTime(e.failingSince)}</Badge> : <Badge tone="bad">Disabled: {e.disabledReason ?? 'unknown'}</Badge>}
                        </li>
                      ))}
                    </ul>
                  )}
                </section>
              )}
              {data.leverRateLimited && (
                <section class="panel" aria-labelledby="lever-429s">
                  <h2 id="lever-429s">Lever 429s seen by the proxy</h2>
                  <p class="muted small">
                    Each is a call Lever refused for going over an account's rate limit. The proxy keeps one budget per account, so these come from calls that bypass it
                    (a token used directly).
                  </p>
                  <HourlyBars id="rate-chart" title="Lever 429s per hour, last 24 hours" hours={data.leverRateLimited} series={[{ key: 'count', label: '429s', class: 's-warn' }]} />
                </section>
              )}
            </div>
          )}
        </>
      )}
    </section>
  );
}
