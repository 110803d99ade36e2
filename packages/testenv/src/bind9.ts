import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Dig, digAt } from './dig.js';
import { freePort } from './ports.js';
import { restartControls, ServerProcess, waitUntilReady } from './process.js';
import { requireDebian } from './tools.js';

/** BIND9's names; MD5, SHA-1 and SHA-224 for peers' old defaults (cert-manager's is MD5). */
export type TsigAlgorithm =
  | 'hmac-md5'
  | 'hmac-sha1'
  | 'hmac-sha224'
  | 'hmac-sha256'
  | 'hmac-sha384'
  | 'hmac-sha512';

export interface TsigKey {
  name: string;
  algorithm: TsigAlgorithm;
  /** Base64 secret. */
  secret: string;
}

export interface Bind9Options {
  /** Zones served as primary, each accepting TSIG-signed updates (default `example.test`). */
  zones?: string[];
  algorithm?: TsigAlgorithm;
  /** Extra records per zone in zone-file syntax, e.g. `www 300 IN A 192.0.2.1`. */
  records?: Record<string, string[]>;
  /**
   * Follow a CNAME into another of its zones in the same answer, as the recursive resolver
   * a CA asks does (recursion on, for loopback clients). Default off: authoritative only.
   */
  followCnames?: boolean;
}

/** A running BIND9 named, authoritative for `zones`, updatable with `tsig`. */
export interface Bind9 {
  host: string;
  port: number;
  /** `127.0.0.1:PORT` */
  address: string;
  zones: string[];
  tsig: TsigKey;
  /** Answers of `dig @server name type +short`, one per line. */
  dig: Dig;
  /** Stops named, as an outage; startServer() brings it back with the same zones. */
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

function zoneFile(zone: string, records: string[]): string {
  return [
    '$TTL 300',
    `@ IN SOA ns.${zone}. hostmaster.${zone}. 1 3600 600 86400 60`,
    `@ IN NS ns.${zone}.`,
    'ns IN A 127.0.0.1',
    ...records,
    '',
  ].join('\n');
}

/** Starts BIND9 (Debian `bind9`) on a free loopback port (TCP and UDP). */
export async function startBind9(opts: Bind9Options = {}): Promise<Bind9> {
  const named = requireDebian('named', 'bind9');
  const zones = opts.zones ?? ['example.test'];
  const tsig: TsigKey = {
    name: 'chousei-update',
    algorithm: opts.algorithm ?? 'hmac-sha256',
    secret: randomBytes(32).toString('base64'),
  };
  const dir = await mkdtemp(join(tmpdir(), 'chousei-bind9-'));
  const port = await freePort(true);
  const conf = [
    `options { directory "${dir}"; pid-file "${dir}/named.pid"; session-keyfile "${dir}/session.key";`,
    `  listen-on port ${port} { 127.0.0.1; }; listen-on-v6 { none; };`,
    `  ${opts.followCnames ? 'recursion yes; allow-recursion { 127.0.0.1; };' : 'recursion no;'} dnssec-validation no; notify no; };`,
    'controls { };',
    `key "${tsig.name}" { algorithm ${tsig.algorithm}; secret "${tsig.secret}"; };`,
    ...zones.map(
      (z) =>
        `zone "${z}" { type primary; file "${dir}/${z}.zone"; ` +
        `update-policy { grant ${tsig.name} zonesub ANY; }; allow-transfer { key ${tsig.name}; }; };`,
    ),
    '',
  ].join('\n');
  const confPath = join(dir, 'named.conf');
  await writeFile(confPath, conf);
  for (const z of zones)
    await writeFile(join(dir, `${z}.zone`), zoneFile(z, opts.records?.[z] ?? []));

  const dig = digAt(port);

  let proc: ServerProcess | undefined;
  const startServer = async () => {
    // -g: foreground, logs to stderr; -n 1: one worker thread is plenty for tests.
    proc = new ServerProcess({
      name: 'named',
      command: named,
      args: ['-g', '-n', '1', '-c', confPath],
    });
    const soa = zones[0]!;
    await waitUntilReady(proc, async () => (await dig(soa, 'SOA')).length > 0, 15_000);
  };
  try {
    await startServer();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    zones,
    tsig,
    dig,
    ...restartControls(() => proc, startServer, dir),
  };
}
