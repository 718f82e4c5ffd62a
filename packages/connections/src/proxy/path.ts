import { AppError } from '@lever-connect/errors';

export class ProxyPathInvalidError extends AppError {
  constructor(why: string) {
    super('proxy_path_invalid', `The Lever path is not allowed: ${why}`, 400);
  }
}

/** Lever's API paths are plain segments: letters, digits and a few marks, percent-escapes allowed. */
const SEGMENT = /^(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})+$/;
/** Escapes that would change where the request goes once decoded: `/`, `\`, `.`, and control characters. */
const DANGEROUS_ESCAPE = /%(?:2[fF]|5[cC]|2[eE]|[01][0-9A-Fa-f]|7[fF])/;

/**
 * The path after `/v1/connections/:id/lever/`, as the caller sent it (not decoded), checked so that the
 * target is always under the configured Lever API base: no absolute URL, no `.` or `..` segment (raw or
 * percent-encoded), no encoded slash or backslash, no backslash, no control character, no empty segment.
 * Returns the path to append to the base (with its leading slash).
 */
export function checkProxyPath(raw: string): string {
  if (raw.length === 0) throw new ProxyPathInvalidError('it is empty');
  if (raw.length > 2048) throw new ProxyPathInvalidError('it is longer than 2048 characters');
  if (/[\u0000-\u001f\u007f\\]/.test(raw)) throw new ProxyPathInvalidError('it holds a control character or a backslash');
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(raw) || raw.startsWith('/')) throw new ProxyPathInvalidError('it is an absolute URL or path');
  for (const segment of raw.split('/')) {
    if (segment === '') throw new ProxyPathInvalidError('it has an empty segment');
    if (segment === '.' || segment === '..') throw new ProxyPathInvalidError('it has a . or .. segment');
    if (DANGEROUS_ESCAPE.test(segment)) throw new ProxyPathInvalidError('it has an encoded slash, backslash, dot or control character');
    if (!SEGMENT.test(segment)) throw new ProxyPathInvalidError('it has a character that must be percent-encoded');
  }
  return `/${raw}`;
}
