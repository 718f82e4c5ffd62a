/**
 * Drives the "Connect Lever" flow the way a browser does, over HTTP: follow the redirects by hand and carry
 * the cookies the api sets for the callback.
 */
export interface ConnectOptions {
  apiUrl: string;
  apiKey: string;
  tenant: string;
  environment?: 'sandbox' | 'production';
  simAccount?: string;
  connectionId?: string;
}

export interface ConnectOutcome {
  sessionToken: string;
  authorizeUrl: URL;
  callbackUrl: URL;
  callbackStatus: number;
  callbackBody: string;
  result: { status: string; connectionId?: string; error?: string };
}

function cookiesFrom(res: Response): string {
  return res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .filter((c) => !c.endsWith('='))
    .join('; ');
}

export async function createConnectSession(options: ConnectOptions) {
  const res = await fetch(`${options.apiUrl}/v1/connect-sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      tenant: { externalId: options.tenant },
      ...(options.environment ? { environment: options.environment } : {}),
      ...(options.connectionId ? { connectionId: options.connectionId } : {}),
    }),
  });
  if (res.status !== 201) throw new Error(`connect session: ${res.status} ${await res.text()}`);
  return (await res.json()) as { token: string; connectUrl: string; expiresAt: string };
}

export async function connectLever(options: ConnectOptions): Promise<ConnectOutcome> {
  const session = await createConnectSession(options);
  const start = await fetch(session.connectUrl + '?mode=popup', { redirect: 'manual' });
  if (start.status !== 302) throw new Error(`connect start: ${start.status} ${await start.text()}`);
  const cookies = cookiesFrom(start);
  const authorizeUrl = new URL(start.headers.get('location')!);
  const authorizeReq = new URL(authorizeUrl);
  authorizeReq.searchParams.set('sim_auto_approve', '1');
  if (options.simAccount) authorizeReq.searchParams.set('sim_account', options.simAccount);
  const approved = await fetch(authorizeReq, { redirect: 'manual' });
  if (approved.status !== 302) throw new Error(`authorize: ${approved.status} ${await approved.text()}`);
  const callbackUrl = new URL(approved.headers.get('location')!);
  const callback = await fetch(callbackUrl, { redirect: 'manual', headers: { cookie: cookies, accept: 'text/html' } });
  const callbackBody = await callback.text();
  const resultRes = await fetch(`${session.connectUrl}/result`);
  const result = (await resultRes.json()) as ConnectOutcome['result'];
  return { sessionToken: session.token, authorizeUrl, callbackUrl, callbackStatus: callback.status, callbackBody, result };
}

/** Connects `count` tenants (one Lever account each), a few at a time; returns their connection ids. */
export async function connectMany(
  options: Omit<ConnectOptions, 'tenant' | 'simAccount'> & { count: number; prefix?: string; parallel?: number },
): Promise<string[]> {
  const ids: string[] = new Array(options.count);
  let next = 0;
  const worker = async () => {
    while (next < options.count) {
      const i = next++;
      const name = `${options.prefix ?? 'tenant'}-${i}`;
      const outcome = await connectLever({ ...options, tenant: name, simAccount: `acct_${name}` });
      if (outcome.result.status !== 'success') throw new Error(`connect ${name}: ${JSON.stringify(outcome.result)}`);
      ids[i] = outcome.result.connectionId!;
    }
  };
  await Promise.all(Array.from({ length: options.parallel ?? 8 }, worker));
  return ids;
}
