/** An OAuth client (a Lever "OAuth app") the simulator knows. */
export interface SimClient {
  clientId: string;
  clientSecret: string;
  /** Shown on the consent page. */
  name: string;
  /** Registered callback URLs; Lever compares them exactly. */
  redirectUris: string[];
}

/** Registered by default so local development and tests need no setup (same values as @lever-connect/config). */
export const DEV_CLIENT: SimClient = {
  clientId: 'lever-connect-dev',
  clientSecret: 'lever-connect-dev-secret',
  name: 'lever-connect (dev)',
  redirectUris: [],
};

export interface ClientRegistry {
  find(clientId: string): SimClient | undefined;
  isRedirectAllowed(client: SimClient, redirectUri: string): boolean;
}

/**
 * The dev client accepts any http://localhost:* or http://127.0.0.1:* callback, because every test and every
 * developer runs the api on a different port. Real Lever (and extra clients) match exactly.
 */
export function createClientRegistry(extra: SimClient[] = []): ClientRegistry {
  const clients = new Map<string, SimClient>([[DEV_CLIENT.clientId, DEV_CLIENT]]);
  for (const client of extra) clients.set(client.clientId, client);
  return {
    find: (clientId) => clients.get(clientId),
    isRedirectAllowed(client, redirectUri) {
      if (client.redirectUris.includes(redirectUri)) return true;
      if (client.clientId !== DEV_CLIENT.clientId) return false;
      try {
        const url = new URL(redirectUri);
        return url.protocol === 'http:' && (url.hostname === 'localhost' || url.hostname === '127.0.0.1');
      } catch {
        return false;
      }
    },
  };
}
