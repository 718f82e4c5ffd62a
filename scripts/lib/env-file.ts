import { parseEnv } from 'node:util';

/** `VAR=` (as in a copied .env.example) counts as unset, the same rule as packages/config. */
export function isSet(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}

/**
 * Gives `name` a value in the text of a .env file when the file leaves it missing or empty. An empty
 * assignment is rewritten in place (the last one: it is the one that counts), otherwise a line is appended;
 * every other line is kept exactly as written.
 */
export function setIfUnset(content: string, name: string, value: string): { content: string; changed: boolean } {
  if (isSet(parseEnv(content)[name])) return { content, changed: false };
  const eol = content.includes('\r\n') ? '\r\n' : '\n';
  const lines = content.split(/\r?\n/);
  const assignment = new RegExp(`^\\s*(?:export\\s+)?${name}\\s*=`);
  const last = lines.findLastIndex((line) => assignment.test(line));
  if (last >= 0) {
    lines[last] = `${name}=${value}`;
    return { content: lines.join(eol), changed: true };
  }
  const separator = content === '' || content.endsWith('\n') ? '' : eol;
  return { content: `${content}${separator}${name}=${value}${eol}`, changed: true };
}

/**
 * Adds the file's variables to `env` where `env` leaves them unset (or empty): the shell wins over .env, as
 * with `process.loadEnvFile`, but an empty shell variable does not hide a value from the file.
 */
export function mergeEnvFile(env: NodeJS.ProcessEnv, content: string): void {
  for (const [key, value] of Object.entries(parseEnv(content))) {
    if (!isSet(env[key]) && value !== undefined) env[key] = value;
  }
}
