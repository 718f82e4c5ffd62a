import net from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildSim } from '../src/index.js';
import { UNDELIVERED_KEPT } from '../src/store.js';
import { bootSim, DEV, PRODUCTION, REDIRECT_URI, waitUntil, type TestSim } from './helpers.js';

/**
 * A client on a raw socket of its own, so a test can reset it (TCP RST) the way the kernel of a killed
 * process does when it closes a socket holding an answer nobody read.
 */
class RawClient {
  readonly socket: net.Socket;
  private buffer = '';
  private constructor(socket: net.Socket) {
    this.socket = socket;
  }

  static async open(url: string): Promise<RawClient> {
    const { hostname, port } = new URL(url);
    const socket = net.connect(Number(port), hostname);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawClient(socket);
  }

  /** Sends a refresh on this socket; reads nothing. */
  sendRefresh(refreshToken: string): void {
    const body = new URLSearchParams({ grant_type: 'refresh_token', client_id: DEV.clientId, client_secret: DEV.clientSecret, refresh_token: refreshToken }).toString();
    this.socket.write(
      `POST /oauth/token HTTP/1.1\r\nHost: sim\r\nConnection: keep-alive\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }

  /** Reads one whole answer (the sim sends Content-Length) and returns its JSON body. */
  async readAnswer(): Promise<Record<string, string>> {
    for (;;) {
      const headEnd = this.buffer.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(this.buffer.slice(0, headEnd))?.[1];
      if (headEnd >= 0 && length !== undefined && this.buffer.length >= headEnd + 4 + Number(length)) {
        const body = this.buffer.slice(headEnd + 4, headEnd + 4 + Number(length));
        this.buffer = this.buffer.slice(headEnd + 4 + Number(length));
        return JSON.parse(body) as Record<string, string>;
      }
      const chunk = await new Promise<Buffer>((resolve, reject) => this.socket.once('data', resolve).once('error', reject));
      this.buffer += chunk.toString('utf8');
    }
  }
}

/** The rotation census: did Lever's answer with the new refresh token reach the client? */
describe('rotations that reached the client', () => {
  let sim: TestSim;
  beforeAll(async () => {
    sim = await bootSim();
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.control('POST', '/reset'));

  /** The one grant of `account`, once its latest rotation has settled (the answer is written or dropped). */
  async function settledGrant(account: string) {
    await waitUntil(async () => (await sim.grantsOf(account))[0]?.lastRotation?.delivered !== null, `${account}'s rotation to settle`);
    const grants = await sim.grantsOf(account);
    expect(grants).toHaveLength(1);
    return grants[0]!;
  }

  it('marks a normal code exchange and refresh delivered', async () => {
    const { refreshToken } = await sim.connect({ sim_account: 'acct_normal' });
    await sim.connect({ sim_account: 'acct_bystander' });
    expect((await settledGrant('acct_normal')).lastRotation!.delivered).toBe(true);
    const before = await sim.simNow();
    expect((await sim.refresh(refreshToken)).status).toBe(200);
    const grant = await settledGrant('acct_normal');
    expect(grant).toMatchObject({ account: 'acct_normal', rotations: 2, refreshCount: 1, lastRotation: { delivered: true } });
    expect(Date.parse(grant.lastRotation!.at)).toBeGreaterThanOrEqual(before - 1);
    expect(await sim.stats()).toMatchObject({ rotationsDelivered: 3, rotationsUndelivered: 0 });
  });

  it('marks a rotation whose answer a timeout_after_rotation fault dropped as not delivered', async () => {
    const { refreshToken } = await sim.connect({ sim_account: 'acct_dropped' });
    await sim.fault({ target: 'token', kind: 'timeout_after_rotation', matchAccount: 'acct_dropped' });
    await expect(sim.refresh(refreshToken)).rejects.toThrow();
    const grant = await settledGrant('acct_dropped');
    expect(grant).toMatchObject({ rotations: 2, lastRotation: { delivered: false, lostBy: 'closed_before_written', clientPort: expect.any(Number) } });
    expect(grant.undeliveredRotations).toEqual([grant.lastRotation]);
    expect(await sim.stats()).toMatchObject({ rotationsDelivered: 1, rotationsUndelivered: 1 });
  });

  it('names the client port the answer was for, and when it settled', async () => {
    const { refreshToken } = await sim.connect({ sim_account: 'acct_port' });
    const client = await RawClient.open(sim.url);
    try {
      client.sendRefresh(refreshToken);
      expect(await client.readAnswer()).toHaveProperty('refresh_token');
      const grant = await settledGrant('acct_port');
      expect(grant.lastRotation).toMatchObject({ delivered: true, clientPort: client.socket.localPort });
      expect(Date.parse(grant.lastRotation!.settledAt!)).toBeGreaterThanOrEqual(Date.parse(grant.lastRotation!.at));
      expect(grant.undeliveredRotations).toEqual([]);
    } finally {
      client.socket.destroy();
    }
  });

  it('names the client port of a rotation Lever made after the client hung up during the latency', async () => {
    const { refreshToken } = await sim.connect({ sim_account: 'acct_gone' });
    await sim.control('POST', '/config', { latencyMs: 1_000 });
    try {
      const client = await RawClient.open(sim.url);
      const port = client.socket.localPort;
      const asked = (await sim.stats()).tokenRequests!;
      client.sendRefresh(refreshToken);
      await waitUntil(async () => (await sim.stats()).tokenRequests! > asked, 'the refresh to reach the simulator');
      client.socket.destroy(); // a killed client process: gone before Lever answered
      await waitUntil(async () => (await sim.grantsOf('acct_gone'))[0]!.rotations === 2, 'Lever to rotate all the same');
      expect((await settledGrant('acct_gone')).lastRotation).toMatchObject({ delivered: false, lostBy: 'closed_before_written', clientPort: port });
    } finally {
      await sim.control('POST', '/config', { latencyMs: 0 });
    }
  });

  it('revises a written answer to not delivered when the client resets the socket before reading it (a killed process)', async () => {
    const { refreshToken } = await sim.connect({ sim_account: 'acct_killed' });
    const client = await RawClient.open(sim.url);
    const port = client.socket.localPort;
    client.sendRefresh(refreshToken); // and never read: the answer waits in the client's receive buffer
    expect(await settledGrant('acct_killed')).toMatchObject({ rotations: 2, lastRotation: { delivered: true } });
    expect(await sim.stats()).toMatchObject({ rotationsDelivered: 2, rotationsUndelivered: 0 });
    client.socket.resetAndDestroy();
    await waitUntil(async () => (await sim.grantsOf('acct_killed'))[0]!.lastRotation!.delivered === false, 'the reset to revise the rotation');
    const [grant] = await sim.grantsOf('acct_killed');
    expect(grant!.lastRotation).toMatchObject({ delivered: false, lostBy: 'reset_unread', clientPort: port });
    expect(grant!.undeliveredRotations).toEqual([grant!.lastRotation]);
    expect(await sim.stats()).toMatchObject({ rotationsDelivered: 1, rotationsUndelivered: 1 });
  });

  it('keeps an answer delivered once the client asked again on the same socket (it had read it)', async () => {
    const { refreshToken } = await sim.connect({ sim_account: 'acct_reader' });
    const client = await RawClient.open(sim.url);
    client.sendRefresh(refreshToken);
    const first = await client.readAnswer();
    const read = await settledGrant('acct_reader');
    client.sendRefresh(first.refresh_token!); // the second answer is never read
    await waitUntil(async () => (await sim.grantsOf('acct_reader'))[0]!.rotations === 3, 'the second rotation');
    await settledGrant('acct_reader');
    client.socket.resetAndDestroy();
    await waitUntil(async () => (await sim.grantsOf('acct_reader'))[0]!.lastRotation!.delivered === false, 'the reset to revise the unread answer');
    const [grant] = await sim.grantsOf('acct_reader');
    // Only the second answer was lost; the first, read before the next request, stays delivered.
    expect(read.lastRotation).toMatchObject({ delivered: true });
    expect(grant).toMatchObject({ rotations: 3, lastRotation: { lostBy: 'reset_unread' } });
    expect(grant!.undeliveredRotations).toEqual([grant!.lastRotation]);
    expect(await sim.stats()).toMatchObject({ rotationsDelivered: 2, rotationsUndelivered: 1 });
  });

  it(`keeps a grant's last ${UNDELIVERED_KEPT} undelivered rotations, and counts them all`, async () => {
    await sim.control('POST', '/config', { reuseLeewaySeconds: 30 });
    try {
      let { refreshToken } = await sim.connect({ sim_account: 'acct_flaky' });
      for (let i = 0; i <= UNDELIVERED_KEPT; i++) {
        await sim.fault({ target: 'token', kind: 'timeout_after_rotation', matchAccount: 'acct_flaky' });
        await expect(sim.refresh(refreshToken)).rejects.toThrow();
        const replay = await sim.refresh(refreshToken); // the leeway hands out the lost answer's refresh token
        expect(replay.status).toBe(200);
        refreshToken = replay.body.refresh_token!;
      }
      const grant = await settledGrant('acct_flaky');
      expect(grant.rotations).toBe(UNDELIVERED_KEPT + 2);
      expect(grant.undeliveredRotations).toHaveLength(UNDELIVERED_KEPT);
      expect(grant.undeliveredRotations.at(-1)).toEqual(grant.lastRotation);
      expect(await sim.stats()).toMatchObject({ rotationsDelivered: 1, rotationsUndelivered: UNDELIVERED_KEPT + 1 });
    } finally {
      await sim.control('POST', '/config', { reuseLeewaySeconds: 0 });
    }
  });

  it('marks a rotation not delivered when the client hung up while the answer was held (slow fault)', async () => {
    const { refreshToken } = await sim.connect({ sim_account: 'acct_impatient' });
    await sim.fault({ target: 'token', kind: 'slow', delayMs: 10_000, matchAccount: 'acct_impatient' });
    await expect(sim.refresh(refreshToken, { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    const grant = await settledGrant('acct_impatient');
    // Lever rotated (the server processed the refresh), but the client never saw the new token.
    expect(grant).toMatchObject({ rotations: 2, refreshCount: 1, lastRotation: { delivered: false } });
    expect((await sim.stats()).rotationsUndelivered).toBe(1);
  });

  it('marks a code exchange whose answer was dropped as not delivered', async () => {
    await sim.fault({ target: 'token', kind: 'timeout_after_rotation', matchAccount: 'acct_lost_code' });
    await expect(sim.exchange(await sim.code({ sim_account: 'acct_lost_code' }))).rejects.toThrow();
    expect(await settledGrant('acct_lost_code')).toMatchObject({ rotations: 1, refreshCount: 0, lastRotation: { delivered: false } });
  });

  it('attributes the reuse that follows a lost answer: the revoked grant says why and that its last rotation never arrived', async () => {
    const { refreshToken } = await sim.connect({ sim_account: 'acct_census' });
    await sim.fault({ target: 'token', kind: 'timeout_after_rotation', matchAccount: 'acct_census' });
    await expect(sim.refresh(refreshToken)).rejects.toThrow();
    expect((await sim.refresh(refreshToken)).status).toBe(403); // the client's retry with the token it still holds
    expect(await settledGrant('acct_census')).toMatchObject({
      status: 'revoked',
      revokedReason: 'refresh_token_reuse',
      rotations: 2,
      lastRotation: { delivered: false },
    });
    expect(await sim.stats()).toMatchObject({ refreshTokenReuse: 1, rotationsUndelivered: 1 });
  });

  it('does not count a leeway replay as a rotation', async () => {
    await sim.control('POST', '/config', { reuseLeewaySeconds: 30 });
    try {
      const { refreshToken } = await sim.connect({ sim_account: 'acct_leeway' });
      await sim.fault({ target: 'token', kind: 'timeout_after_rotation', matchAccount: 'acct_leeway' });
      await expect(sim.refresh(refreshToken)).rejects.toThrow();
      expect((await sim.refresh(refreshToken)).status).toBe(200); // the replay hands out the lost tokens
      expect(await settledGrant('acct_leeway')).toMatchObject({ rotations: 2, lastRotation: { delivered: false } });
    } finally {
      await sim.control('POST', '/config', { reuseLeewaySeconds: 0 });
    }
  });

  it('lists every grant without ?account= and none for an unknown account', async () => {
    await sim.connect({ sim_account: 'acct_one' });
    await sim.connect({ sim_account: 'acct_two' });
    expect((await sim.grants()).map((g) => g.account)).toEqual(['acct_one', 'acct_two']);
    expect(await sim.grantsOf('acct_nobody')).toEqual([]);
  });
});

describe('rotations that reached the client, through app.inject', () => {
  it('marks an injected code exchange delivered', async () => {
    const app = buildSim({ logLevel: 'silent' });
    try {
      const query = new URLSearchParams({
        client_id: DEV.clientId,
        redirect_uri: REDIRECT_URI,
        response_type: 'code',
        scope: 'offline_access',
        audience: PRODUCTION,
        sim_account: 'acct_injected',
        sim_auto_approve: '1',
      });
      const authorized = await app.inject({ method: 'GET', url: `/authorize?${query}` });
      const code = new URL(authorized.headers.location as string).searchParams.get('code')!;
      const exchanged = await app.inject({
        method: 'POST',
        url: '/oauth/token',
        payload: { grant_type: 'authorization_code', client_id: DEV.clientId, client_secret: DEV.clientSecret, code, redirect_uri: REDIRECT_URI },
      });
      expect(exchanged.statusCode).toBe(200);
      const grants = (await app.inject({ method: 'GET', url: '/__sim/grants?account=acct_injected' })).json<Array<{ lastRotation: unknown }>>();
      expect(grants).toEqual([expect.objectContaining({ rotations: 1, lastRotation: { at: expect.any(String), delivered: true, settledAt: expect.any(String), clientPort: null } })]);
    } finally {
      await app.close();
    }
  });
});
