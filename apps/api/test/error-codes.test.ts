import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SOURCE_DIRS = ['apps/api/src', ...readdirSync(join(ROOT, 'packages')).map((p) => `packages/${p}/src`)];
const GENERATED = /(^|\/)generated\//;

function sourceFiles(): Array<{ path: string; text: string }> {
  const files: Array<{ path: string; text: string }> = [];
  for (const dir of SOURCE_DIRS) {
    let entries: string[];
    try {
      entries = readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' });
    } catch {
      continue; // a package without src/
    }
    for (const entry of entries) {
      if (!entry.endsWith('.ts') || entry.endsWith('.d.ts') || GENERATED.test(entry)) continue;
      files.push({ path: `${dir}/${entry}`, text: readFileSync(join(ROOT, dir, entry), 'utf8') });
    }
  }
  return files;
}

const CODE = `'([a-z][a-z0-9_]*)'`;

/**
 * Every error `code` the source can answer with, found by a few regexes (not a parser: a new way of
 * producing a code needs a pattern here; the first test fails if the patterns stop finding the known ones):
 * - in the AppError class and its subclasses (transitively): string literals passed to `super(...)`, a
 *   `code = '...'` default and a `code: 'a' | 'b'` parameter type;
 * - the first argument of `new X('...')` for each of those classes whose constructor's first parameter is
 *   the code (AppError's own, or a subclass's parameter named `code`);
 * - `error: { code: '...' }` bodies written by hand (errors.ts);
 * - the branches of a `const code = a ? '...' : '...'` choice, and of `const reason = ...` in a file that
 *   records it as a connect session's outcome (`recordError`);
 * - the values of the Fastify error-code map in errors.ts.
 */
function errorCodes(files: Array<{ path: string; text: string }>): Map<string, Set<string>> {
  interface ErrorClass {
    name: string;
    parent: string;
    body: string;
    path: string;
  }
  const classes: ErrorClass[] = files.flatMap(({ path, text }) =>
    [...text.matchAll(/class (\w+) extends (\w+)[^{]*\{(\}|[\s\S]*?\n\})/g)].map((m) => ({ name: m[1]!, parent: m[2]!, body: m[3]!, path })),
  );
  // Names repeat across packages (the SDK has its own ConflictError...): a class named in a file is the one
  // declared in that file, else the shared one in packages/errors, else any.
  const lookup = (name: string, fromPath: string) =>
    classes.find((c) => c.name === name && c.path === fromPath) ??
    classes.find((c) => c.name === name && c.path.startsWith('packages/errors/')) ??
    classes.find((c) => c.name === name);
  const isAppError = (c: ErrorClass | undefined, depth = 0): boolean =>
    !!c && depth < 20 && (c.parent === 'AppError' || isAppError(lookup(c.parent, c.path), depth + 1));
  const takesCode = (c: ErrorClass | undefined, depth = 0): boolean => {
    if (!c || depth > 20) return false;
    const ctor = /constructor\(\s*(?:readonly\s+)?(\w+)/.exec(c.body);
    if (ctor) return ctor[1] === 'code';
    return c.parent === 'AppError' || takesCode(lookup(c.parent, c.path), depth + 1);
  };

  const found = new Map<string, Set<string>>();
  const add = (code: string, where: string) => found.set(code, (found.get(code) ?? new Set()).add(where));
  for (const c of classes.filter((x) => isAppError(x))) {
    for (const m of c.body.matchAll(new RegExp(`(?:super\\(\\s*|\\bcode\\s*=\\s*)${CODE}`, 'g'))) add(m[1]!, c.path);
    for (const m of c.body.matchAll(/constructor\(\s*code\s*:\s*([^,)=]+)/g)) {
      for (const literal of m[1]!.matchAll(new RegExp(CODE, 'g'))) add(literal[1]!, c.path);
    }
  }
  for (const { path, text } of files) {
    for (const m of text.matchAll(new RegExp(`new\\s+(\\w+)\\s*\\(\\s*${CODE}`, 'g'))) {
      if (m[1] === 'AppError' || takesCode(lookup(m[1]!, path))) add(m[2]!, path);
    }
    for (const m of text.matchAll(new RegExp(`\\berror:\\s*\\{\\s*code:\\s*${CODE}`, 'g'))) add(m[1]!, path);
    const choices = text.includes('recordError(') ? /\bconst (?:code|reason)\s*=([^;]+);/g : /\bconst code\s*=([^;]+);/g;
    for (const m of text.matchAll(choices)) {
      for (const branch of m[1]!.matchAll(new RegExp(`[?:]\\s*${CODE}`, 'g'))) add(branch[1]!, path);
    }
    for (const m of text.matchAll(new RegExp(`\\[\\s*'FST_ERR_[A-Z_]+'\\s*,\\s*${CODE}\\s*\\]`, 'g'))) add(m[1]!, path);
  }
  return found;
}

describe('docs/api.md', () => {
  const docs = readFileSync(join(ROOT, 'docs/api.md'), 'utf8');
  const codes = errorCodes(sourceFiles());

  it('finds the codes it is meant to find (the patterns still match the source)', () => {
    expect([...codes.keys()]).toEqual(
      expect.arrayContaining([
        'validation_failed',
        'route_not_found',
        'missing_api_key',
        'invalid_api_key',
        'forbidden',
        'not_found',
        'needs_reauth',
        'connection_disconnected',
        'refresh_in_progress',
        'database_unavailable',
        'redis_unavailable',
        'body_too_large',
        'malformed_body',
        'unsupported_media_type',
        'internal_error',
        'state_invalid',
        'connect_session_expired',
        'account_mismatch',
        'code_exchange_failed',
        'access_denied',
      ]),
    );
  });

  it('documents every error code the api and the packages can answer with', () => {
    const missing = [...codes]
      .filter(([code]) => !docs.includes(`\`${code}\``))
      .map(([code, where]) => `${code} (${[...where].map((p) => relative(ROOT, join(ROOT, p))).join(', ')})`);
    expect(missing, 'add these codes to docs/api.md (code, HTTP status, meaning, what the caller should do)').toEqual([]);
  });
});
