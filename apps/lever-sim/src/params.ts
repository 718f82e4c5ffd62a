/** Reads one string parameter from a parsed query or body; repeated or non-string values count as absent. */
export function stringParam(source: unknown, name: string): string | undefined {
  if (!source || typeof source !== 'object') return undefined;
  const value = (source as Record<string, unknown>)[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
