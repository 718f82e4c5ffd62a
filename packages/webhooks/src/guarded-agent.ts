import type { LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { assertAddressesAllowed, bareHost, resolveAllowedAddresses, type ResolvedAddress, type UrlPolicy } from './url-policy.js';

const notFound = (hostname: string) => Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });

/**
 * A `net.connect` lookup that resolves the host and answers only if the policy allows every address (as
 * when the endpoint was saved). The socket connects to exactly what the lookup answers, so the address
 * checked is the address connected to: a host with a near-zero TTL cannot answer a public address to a
 * check and 10.x or 169.254.169.254 to the connection. Honours `all` (Node asks for every address when it
 * races IPv4 and IPv6) and `family`.
 */
export function guardedLookup(policy: UrlPolicy): LookupFunction {
  return (hostname, options, callback) => {
    resolveAllowedAddresses(bareHost(hostname), policy).then(
      (resolved) => {
        const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0);
        const addresses: ResolvedAddress[] = family === 0 ? resolved : resolved.filter((a) => a.family === family);
        const [first] = addresses;
        if (!first) callback(notFound(hostname), '');
        else if (options.all) callback(null, addresses.map((a): LookupAddress => ({ address: a.address, family: a.family })));
        else callback(null, first.address, first.family);
      },
      (error: Error) => callback(error, ''),
    );
  };
}

/**
 * The dispatcher for webhook requests: every connection it opens goes only to an address the policy
 * allows. Host names are checked by the lookup above; `net` never calls a lookup for an IP literal, so a
 * literal is checked before connecting. TLS still names the URL's host (SNI and certificate check), since
 * the socket is given the host name, not the address. A kept-alive connection is reused without a new
 * lookup, which is safe: its address was checked when it was opened.
 */
export function createGuardedAgent(policy: UrlPolicy): Agent {
  const connect = buildConnector({ lookup: guardedLookup(policy) });
  return new Agent({
    connect(options, callback) {
      const host = bareHost(options.hostname);
      const family = isIP(host);
      if (family !== 0 && policy.guarded) {
        try {
          assertAddressesAllowed(host, [{ address: host, family }], policy);
        } catch (error) {
          callback(error as Error, null);
          return;
        }
      }
      connect(options, callback);
    },
  });
}
