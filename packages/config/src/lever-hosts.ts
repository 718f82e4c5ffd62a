/** Lever's two environments. A connection belongs to exactly one. */
export const LEVER_ENVIRONMENTS = ['sandbox', 'production'] as const;
export type LeverEnvironment = (typeof LEVER_ENVIRONMENTS)[number];

/** Hosts and audiences from ../shared/LEVER.md. The audience keeps its trailing slash: Lever requires it. */
export const LEVER_HOSTS: Record<LeverEnvironment, { authUrl: string; apiBaseUrl: string; audience: string }> = {
  production: {
    authUrl: 'https://auth.lever.co',
    apiBaseUrl: 'https://api.lever.co/v1',
    audience: 'https://api.lever.co/v1/',
  },
  sandbox: {
    authUrl: 'https://sandbox-lever.auth0.com',
    apiBaseUrl: 'https://api.sandbox.lever.co/v1',
    audience: 'https://api.sandbox.lever.co/v1/',
  },
};

/** The simulator serves production's API under /v1 and sandbox's under /sandbox/v1 (apps/lever-sim). */
export const SIMULATOR_API_PATHS: Record<LeverEnvironment, string> = {
  production: '/v1',
  sandbox: '/sandbox/v1',
};

/** The simulator's built-in OAuth client, accepted with any localhost redirect URI. */
export const SIMULATOR_DEV_CLIENT = { clientId: 'lever-connect-dev', clientSecret: 'lever-connect-dev-secret' };
