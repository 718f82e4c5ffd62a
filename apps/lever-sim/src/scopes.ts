/** Scopes that are not about Lever's API: the only ones Lever keeps when `audience` is missing. */
const IDENTITY_SCOPES = new Set(['offline_access', 'openid', 'profile', 'email']);

const SPECIAL_WORDS: Record<string, string> = {
  offline_access: 'Stay connected (offline access)',
  openid: 'Know who you are',
  profile: 'See your basic profile',
  email: 'See your email address',
  'confidential:access:admin': 'Access confidential data',
};

export function parseScope(scope: string | undefined): string[] {
  return [...new Set((scope ?? '').split(' ').filter((s) => s.length > 0))];
}

/**
 * Without an API audience Lever's consent shows only `offline_access` and the token carries no API scope
 * (LEVER.md), so the granted scope drops every `<resource>:<action>:admin` entry.
 */
export function grantedScopes(requested: string[], hasApiAudience: boolean): string[] {
  return hasApiAudience ? requested : requested.filter((s) => IDENTITY_SCOPES.has(s));
}

/** "opportunities:read:admin" → "Read opportunities": the consent page speaks to a Lever admin, not a developer. */
export function describeScope(scope: string): string {
  const special = SPECIAL_WORDS[scope];
  if (special) return special;
  const match = /^([a-z_]+):(read|write|access):admin$/.exec(scope);
  if (!match) return scope;
  const resource = match[1]!.replaceAll('_', ' ');
  if (match[2] === 'read') return `Read ${resource}`;
  if (match[2] === 'write') return `Read and write ${resource}`;
  return `Access ${resource}`;
}
