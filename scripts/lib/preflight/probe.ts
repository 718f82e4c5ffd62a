import net from 'node:net';

/** What is at an address: the server asked about, nothing at all, or something else (another program). */
export type ProbeResult = 'answers' | 'nothing' | 'other';

const PROBE_TIMEOUT_MS = 2_000;

/**
 * Opens a TCP connection, writes `hello` and reads the first bytes back. Nothing listening (refused, or no
 * connection within the bound) is `nothing`; a listener whose reply `recognise` rejects, or that stays
 * silent, is `other`.
 */
function probe(host: string, port: number, hello: Buffer, recognise: (reply: Buffer) => boolean, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let connected = false;
    const socket = net.connect({ host, port });
    const done = (result: ProbeResult) => {
      socket.destroy();
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => done(connected ? 'other' : 'nothing'), timeoutMs);
    socket.on('connect', () => {
      connected = true;
      socket.write(hello);
    });
    socket.once('data', (reply: Buffer) => done(recognise(reply) ? 'answers' : 'other'));
    socket.on('error', () => done(connected ? 'other' : 'nothing'));
    socket.on('close', () => done(connected ? 'other' : 'nothing'));
  });
}

/** Redis answers an inline PING with +PONG, or with an error (-NOAUTH, -DENIED) when it wants a password. */
export function probeRedis(host: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  return probe(host, port, Buffer.from('PING\r\n'), (reply) => reply[0] === 0x2b /* + */ || reply[0] === 0x2d /* - */, timeoutMs);
}

/** PostgreSQL answers an SSLRequest with one byte: S (will do TLS) or N (will not). */
export function probePostgres(host: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  const sslRequest = Buffer.alloc(8);
  sslRequest.writeInt32BE(8, 0);
  sslRequest.writeInt32BE(80877103, 4);
  return probe(host, port, sslRequest, (reply) => reply.length === 1 && (reply[0] === 0x53 || reply[0] === 0x4e), timeoutMs);
}

/** A port nothing listens on at `host` right now (the kernel's pick). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Waits until `check` says the server answers, up to `timeoutMs`. */
export async function waitUntilAnswers(check: () => Promise<ProbeResult>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await check()) === 'answers') return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}
