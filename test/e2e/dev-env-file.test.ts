// How `pnpm dev` and `pnpm db:migrate` treat the git-ignored .env (scripts/lib/env-file.ts): a user who ran
// `cp .env.example .env` has `TOKEN_ENCRYPTION_KEY=` in it, which must get a key without touching the
// user's other lines.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { ROOT } from '@lever-connect/testing';
import { describe, expect, it } from 'vitest';
import { isSet, mergeEnvFile, setIfUnset } from '../../scripts/lib/env-file.ts';
import { waitForUrl } from '../../scripts/lib/wait-for-url.ts';

const KEY = 'a'.repeat(43) + '=';

describe('setIfUnset', () => {
  it.each([
    ['an empty assignment', 'A=1\nTOKEN_ENCRYPTION_KEY=\nB=2\n', `A=1\nTOKEN_ENCRYPTION_KEY=${KEY}\nB=2\n`],
    ['blanks and an inline comment', 'TOKEN_ENCRYPTION_KEY=   # fill me\nB=2\n', `TOKEN_ENCRYPTION_KEY=${KEY}\nB=2\n`],
    ['empty quotes with export', 'export TOKEN_ENCRYPTION_KEY=""\n', `TOKEN_ENCRYPTION_KEY=${KEY}\n`],
    ['no assignment', '# mine\nA=1\n', `# mine\nA=1\nTOKEN_ENCRYPTION_KEY=${KEY}\n`],
    ['no assignment and no final newline', 'A=1', `A=1\nTOKEN_ENCRYPTION_KEY=${KEY}\n`],
    ['an empty file', '', `TOKEN_ENCRYPTION_KEY=${KEY}\n`],
    ['CRLF line ends', 'A=1\r\nTOKEN_ENCRYPTION_KEY=\r\n', `A=1\r\nTOKEN_ENCRYPTION_KEY=${KEY}\r\n`],
    ['an empty assignment overriding an earlier one', 'TOKEN_ENCRYPTION_KEY=old\nTOKEN_ENCRYPTION_KEY=\n', `TOKEN_ENCRYPTION_KEY=old\nTOKEN_ENCRYPTION_KEY=${KEY}\n`],
  ])('gives the key a value in a file with %s, keeping every other line', (_, before, after) => {
    expect(setIfUnset(before, 'TOKEN_ENCRYPTION_KEY', KEY)).toEqual({ content: after, changed: true });
    expect(parseEnv(after).TOKEN_ENCRYPTION_KEY).toBe(KEY);
  });

  it('leaves a file that already has a key untouched', () => {
    const content = 'TOKEN_ENCRYPTION_KEY=mine\nA=\n';
    expect(setIfUnset(content, 'TOKEN_ENCRYPTION_KEY', KEY)).toEqual({ content, changed: false });
  });

  it('gives a copied .env.example a key and changes nothing else', () => {
    const example = readFileSync(path.join(ROOT, '.env.example'), 'utf8');
    const { content, changed } = setIfUnset(example, 'TOKEN_ENCRYPTION_KEY', KEY);

    expect(changed).toBe(true);
    expect(parseEnv(content)).toEqual({ ...parseEnv(example), TOKEN_ENCRYPTION_KEY: KEY });
    expect(content.split('\n').length).toBe(example.split('\n').length);
  });
});

describe('mergeEnvFile', () => {
  it('fills variables the environment leaves unset or empty, and never overrides a set one', () => {
    const env: NodeJS.ProcessEnv = { A: 'shell', B: '', D: 'shell' };
    mergeEnvFile(env, 'A=file\nB=file\nC=file\nD=\n');
    expect(env).toEqual({ A: 'shell', B: 'file', C: 'file', D: 'shell' });
  });

  it('counts blank values as unset', () => {
    expect([undefined, '', '  '].map(isSet)).toEqual([false, false, false]);
    expect(isSet('x')).toBe(true);
  });
});

describe('.env.example', () => {
  it('has a comment directly above every variable', () => {
    const lines = readFileSync(path.join(ROOT, '.env.example'), 'utf8').split('\n');
    const uncommented = lines.filter((line, i) => /^[A-Z0-9_]+=/.test(line) && !lines[i - 1]?.startsWith('#'));
    expect(uncommented).toEqual([]);
  });

  it('documents every variable scripts/dev.ts reads', () => {
    const documented = Object.keys(parseEnv(readFileSync(path.join(ROOT, '.env.example'), 'utf8')));
    const source = readFileSync(path.join(ROOT, 'scripts/dev.ts'), 'utf8');
    const read = [...source.matchAll(/setting\('([A-Z0-9_]+)'\)|process\.env\.([A-Z0-9_]+)/g)].map((m) => m[1] ?? m[2]);
    expect(read.length).toBeGreaterThan(0);
    expect(read.filter((name) => !documented.includes(name!))).toEqual([]);
  });
});

describe('waitForUrl', () => {
  it('gives up within its bound on a server that accepts connections but never answers', async () => {
    const server = http.createServer(() => {
      // never answers
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const started = Date.now();
    try {
      expect(await waitForUrl(`http://127.0.0.1:${port}/healthz`, { timeoutMs: 1_000, intervalMs: 50 })).toBe(false);
      expect(Date.now() - started).toBeLessThan(3_500);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('returns as soon as the URL answers 2xx', async () => {
    let calls = 0;
    const server = http.createServer((_req, res) => res.writeHead(++calls < 3 ? 503 : 200).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      expect(await waitForUrl(`http://127.0.0.1:${port}/healthz`, { timeoutMs: 5_000, intervalMs: 20 })).toBe(true);
      expect(calls).toBe(3);
    } finally {
      server.close();
    }
  });
});
