import { ValidationError } from '@lever-connect/errors';

/** The longest tenant id or name, after normalization (the API's schemas say the same of what is sent). */
export const MAX_TENANT_TEXT_LENGTH = 200;

/**
 * Code points a tenant's id or name may not contain, with what they are (the refusal names it).
 * - C0 controls (NUL included: Postgres text cannot store it, and a NUL used to surface as a 500), DEL, C1:
 *   they break logs, CSV exports and terminals (ESC sequences), and nothing prints them.
 * - Bidi marks, embeddings, overrides and isolates ("Trojan Source"): they make an id display as another
 *   (`acme\u202Enimda` reads as "acmeadmin") in the operator's dashboard, our logs and webhook payloads.
 * - Line and paragraph separators: a line break in a log line or a header value.
 * - Lone surrogates: not text; UTF-8 cannot encode them, so Postgres would store U+FFFD instead.
 */
const REFUSED: ReadonlyArray<readonly [from: number, to: number, what: string]> = [
  [0x0000, 0x001f, 'a control character'],
  [0x007f, 0x009f, 'a control character'],
  [0x061c, 0x061c, 'a bidi mark'],
  [0x200e, 0x200f, 'a bidi mark'],
  [0x2028, 0x2029, 'a line separator'],
  [0x202a, 0x202e, 'a bidi embedding or override'],
  [0x2066, 0x2069, 'a bidi isolate'],
  [0xd800, 0xdfff, 'a lone surrogate'],
];

const codePoint = (cp: number) => `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;

function refusal(value: string): string | undefined {
  // for...of walks code points: a surrogate pair is one (and allowed); a lone surrogate is its own.
  for (const char of value) {
    const cp = char.codePointAt(0)!;
    const hit = REFUSED.find(([from, to]) => cp >= from && cp <= to);
    if (hit) return `${codePoint(cp)} (${hit[2]})`;
  }
  return undefined;
}

function normalized(value: string, field: string, options: { allowEmpty: boolean }): string {
  const refused = refusal(value);
  if (refused) throw new ValidationError(`${field}: ${refused} is not allowed`, { field });
  const nfc = value.normalize('NFC');
  if (!options.allowEmpty && nfc.length === 0) throw new ValidationError(`${field}: must not be empty`, { field });
  if (nfc.length > MAX_TENANT_TEXT_LENGTH) {
    throw new ValidationError(`${field}: must be at most ${MAX_TENANT_TEXT_LENGTH} characters`, { field });
  }
  return nfc;
}

/**
 * A tenant id as it is stored, from one a caller sends to name a tenant (creating it on first use): NFC,
 * so "café" typed on a Mac (e + combining accent) and on Windows (é) is one tenant; no control, bidi or
 * separator character. `field` is the input's name, for the 400.
 */
export function tenantExternalId(value: string, field = 'tenantExternalId'): string {
  return normalized(value, field, { allowEmpty: false });
}

/** A tenant's display name as it is stored: the same rules as its id, and it may be empty. */
export function tenantName(value: string, field = 'name'): string {
  return normalized(value, field, { allowEmpty: true });
}

/**
 * The ids that may match a tenant id a caller reads by (a path parameter, a filter): its NFC form, and the
 * form sent when it differs, so a tenant stored before ids were normalized stays readable. Only a NUL is
 * refused (Postgres cannot compare with it): a tenant stored before the rule may hold any other character,
 * and reading it must keep working.
 */
export function tenantLookupIds(value: string, field = 'externalId'): string[] {
  if (value.includes('\u0000')) throw new ValidationError(`${field}: U+0000 (a control character) is not allowed`, { field });
  const nfc = value.normalize('NFC');
  return nfc === value ? [value] : [nfc, value];
}
