import net from 'node:net';
import tls from 'node:tls';

/**
 * Where a delivery must never connect: a TCP listener that counts connections and drops them. A count of 0
 * proves that no request, not even a TLS handshake, went to this address.
 */
export async function startForbiddenListener(host: string, port = 0) {
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A TLS listener that records the server name (SNI) of each handshake and then refuses it (it has no
 * certificate): enough to see which address a delivery connected to, and under which host name.
 */
export async function startSniRecorder(host: string, port = 0) {
  const serverNames: string[] = [];
  const server = tls.createServer({
    SNICallback: (name, callback) => {
      serverNames.push(name);
      callback(new Error('no certificate here'));
    },
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    serverNames,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
