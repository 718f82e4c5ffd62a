import { describe, expect, it } from 'vitest';
import { tenantExternalId, tenantLookupIds, tenantName } from '../src/access/tenant-names.js';

describe('tenant ids and names', () => {
  it.each([
    ['acme', 'acme'],
    ['Acme Corp. (EU) #42', 'Acme Corp. (EU) #42'],
    ['cafe\u0301', 'caf\u00e9'], // NFC: e + combining acute → é
    ['\u212b', '\u00c5'], // ANGSTROM SIGN → Å (a canonical singleton)
    ['株式会社', '株式会社'],
    ['\u0627\u0644\u0639\u0631\u0628\u064a\u0629', '\u0627\u0644\u0639\u0631\u0628\u064a\u0629'], // right-to-left text itself is fine
    ['team 😀', 'team 😀'], // a surrogate pair is one code point
    ['a\u200db', 'a\u200db'], // a zero-width joiner is part of emoji and scripts: kept
  ])('stores %j as %j', (input, stored) => {
    expect(tenantExternalId(input)).toBe(stored);
    expect(tenantName(input)).toBe(stored);
  });

  it.each([
    ['\u0000', 'U+0000 (a control character)'],
    ['\u0009', 'U+0009 (a control character)'],
    ['\u000a', 'U+000A (a control character)'],
    ['\u001b', 'U+001B (a control character)'],
    ['\u007f', 'U+007F (a control character)'],
    ['\u0085', 'U+0085 (a control character)'],
    ['\u009f', 'U+009F (a control character)'],
    ['\u061c', 'U+061C (a bidi mark)'],
    ['\u200e', 'U+200E (a bidi mark)'],
    ['\u200f', 'U+200F (a bidi mark)'],
    ['\u2028', 'U+2028 (a line separator)'],
    ['\u2029', 'U+2029 (a line separator)'],
    ['\u202a', 'U+202A (a bidi embedding or override)'],
    ['\u202e', 'U+202E (a bidi embedding or override)'],
    ['\u2066', 'U+2066 (a bidi isolate)'],
    ['\u2069', 'U+2069 (a bidi isolate)'],
    ['\ud800', 'U+D800 (a lone surrogate)'],
    ['\udfff', 'U+DFFF (a lone surrogate)'],
  ])('refuses %j, naming it and the field', (char, what) => {
    for (const value of [char, `acme${char}`, `${char}acme`]) {
      expect(() => tenantExternalId(value, 'tenant.externalId')).toThrow(expect.objectContaining({ code: 'validation_failed', statusCode: 400, details: { field: 'tenant.externalId' } }));
      expect(() => tenantExternalId(value)).toThrow(`tenantExternalId: ${what} is not allowed`);
      expect(() => tenantName(value)).toThrow(`name: ${what} is not allowed`);
    }
  });

  it('refuses an empty id (not an empty name) and more than 200 characters after normalization', () => {
    expect(() => tenantExternalId('')).toThrow('tenantExternalId: must not be empty');
    expect(tenantName('')).toBe('');
    expect(tenantExternalId('x'.repeat(200))).toHaveLength(200);
    expect(() => tenantExternalId('x'.repeat(201))).toThrow('at most 200');
    // U+FB2C (a precomposed Hebrew letter) is excluded from composition: NFC writes it as 3 code units.
    expect(() => tenantName('\ufb2c'.repeat(100))).toThrow('at most 200');
  });

  it('reads by the NFC form and the form sent, refusing only a NUL (a tenant stored before the rule stays readable)', () => {
    expect(tenantLookupIds('acme')).toEqual(['acme']);
    expect(tenantLookupIds('cafe\u0301')).toEqual(['caf\u00e9', 'cafe\u0301']);
    expect(tenantLookupIds('legacy\u202eid\u0001')).toEqual(['legacy\u202eid\u0001']);
    expect(() => tenantLookupIds('acme\u0000', 'tenant')).toThrow(expect.objectContaining({ code: 'validation_failed', details: { field: 'tenant' } }));
  });
});
