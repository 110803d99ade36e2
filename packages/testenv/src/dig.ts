import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requireDebian } from './tools.js';

const run = promisify(execFile);

/** Answers of `dig @server name type +short`, one per line. */
export type Dig = (name: string, type: string) => Promise<string[]>;

/** `dig` (Debian bind9-dnsutils) against one loopback DNS server. */
export function digAt(port: number, host = '127.0.0.1'): Dig {
  const digBin = requireDebian('dig', 'bind9-dnsutils');
  return async (name, type) => {
    const { stdout } = await run(digBin, [
      `@${host}`,
      '-p',
      String(port),
      '+short',
      '+tries=1',
      '+time=2',
      name,
      type,
    ]);
    return stdout.split('\n').filter(Boolean);
  };
}
