import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { MissingDependencyError } from './errors.js';

/** Where setup.sh and build-controlplane.sh cache what they install. */
export function cacheDir(): string {
  const base = process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? '/root', '.cache');
  return process.env.CHOUSEI_CACHE ?? join(base, 'chousei');
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable named `name` on PATH (and in sbin, where Debian puts named). */
export function onPath(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  return dirs.map((d) => join(d, name)).find(isExecutable);
}

/** Finds a command or throws one error that names the command and how to install it. */
export function requireCommand(name: string, install: string): string {
  const found = onPath(name);
  if (!found) throw new MissingDependencyError(name, install);
  return found;
}

export const SETUP_HINT = 'bash scripts/setup.sh (from the repository root)';

/** A Debian package's command, e.g. named from bind9. */
export function requireDebian(command: string, pkg: string): string {
  return requireCommand(command, `apt-get install -y ${pkg}  (or ${SETUP_HINT})`);
}

/** moto_server: $CHOUSEI_MOTO_SERVER, the virtualenv setup.sh made, or PATH. */
export function motoServer(): string {
  const env = process.env.CHOUSEI_MOTO_SERVER;
  if (env) return env;
  const cache = cacheDir();
  let venvs: string[] = [];
  try {
    venvs = readdirSync(cache).filter((d) => d.startsWith('moto-'));
  } catch {}
  const found = venvs
    .sort()
    .reverse()
    .map((d) => join(cache, d, 'bin', 'moto_server'))
    .find(isExecutable);
  return found ?? requireCommand('moto_server', `pip install 'moto[server]'  (or ${SETUP_HINT})`);
}
