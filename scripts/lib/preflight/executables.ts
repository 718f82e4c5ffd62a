import { accessSync, constants, readdirSync } from 'node:fs';
import path from 'node:path';

/** Debian's (and the postgres images') home of each installed PostgreSQL version: <root>/<version>/bin. */
export const POSTGRES_ROOT = '/usr/lib/postgresql';

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first `name` on a PATH-style list of directories. */
export function findOnPath(name: string, pathEnv: string | undefined): string | undefined {
  for (const dir of (pathEnv ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/**
 * A directory holding both `initdb` and `pg_ctl`: PATH first (Homebrew, the postgres images), then the
 * newest version under `postgresRoot` (Debian and Ubuntu, where neither is on PATH).
 */
export function findPostgresBinDir(pathEnv: string | undefined, postgresRoot = POSTGRES_ROOT): string | undefined {
  const initdb = findOnPath('initdb', pathEnv);
  if (initdb && isExecutable(path.join(path.dirname(initdb), 'pg_ctl'))) return path.dirname(initdb);
  let versions: string[];
  try {
    versions = readdirSync(postgresRoot);
  } catch {
    return undefined;
  }
  return versions
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    .map((version) => path.join(postgresRoot, version, 'bin'))
    .find((dir) => isExecutable(path.join(dir, 'initdb')) && isExecutable(path.join(dir, 'pg_ctl')));
}
