import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { type Dig, digAt } from './dig.js';
import { freePort } from './ports.js';
import { restartControls, ServerProcess, waitUntilReady } from './process.js';
import { requireDebian } from './tools.js';

/** The generic SQLite schema Debian's pdns-backend-sqlite3 ships. */
const SCHEMA = '/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql';

export interface PowerDNSOptions {
  /** Zones created (Native, with an NS record) before the server is handed over. */
  zones?: string[];
}

/** A running PowerDNS Authoritative Server with the sqlite3 backend and its HTTP API. */
export interface PowerDNS {
  /** `http://127.0.0.1:PORT`: the webserver serving `/api/v1`. */
  apiUrl: string;
  /** Sent as `X-API-Key`. */
  apiKey: string;
  /** The API's server id (`localhost`, as in every PowerDNS install). */
  serverId: string;
  /** Where it answers DNS (UDP and TCP). */
  host: string;
  port: number;
  /** `127.0.0.1:PORT` */
  address: string;
  zones: string[];
  dig: Dig;
  /** Stops pdns_server, as an outage; startServer() brings it back with the same data. */
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts Debian's pdns_server (`pdns-server` and `pdns-backend-sqlite3`) on free loopback
 * ports, with a fresh SQLite database in a temp dir and the API on, its caches off (tests
 * read their writes back at once).
 */
export async function startPowerDNS(opts: PowerDNSOptions = {}): Promise<PowerDNS> {
  const pdns = requireDebian('pdns_server', 'pdns-server pdns-backend-sqlite3');
  const schema = await readFile(SCHEMA, 'utf8').catch(() => {
    throw new Error(`${SCHEMA} missing: apt-get install -y pdns-backend-sqlite3`);
  });
  const zones = opts.zones ?? ['example.test'];
  const apiKey = randomBytes(18).toString('base64url');
  const dir = await mkdtemp(join(tmpdir(), 'chousei-pdns-'));
  const database = join(dir, 'pdns.sqlite3');
  const db = new DatabaseSync(database);
  db.exec(schema);
  db.close();
  const [port, apiPort] = [await freePort(true), await freePort()];
  const conf = [
    'launch=gsqlite3',
    `gsqlite3-database=${database}`,
    'local-address=127.0.0.1',
    `local-port=${port}`,
    'api=yes',
    `api-key=${apiKey}`,
    'webserver=yes',
    'webserver-address=127.0.0.1',
    `webserver-port=${apiPort}`,
    'webserver-allow-from=127.0.0.0/8',
    `socket-dir=${dir}`,
    'guardian=no',
    'daemon=no',
    'disable-syslog=yes',
    'write-pid=no',
    // No lookups of PowerDNS's security status on the internet.
    'security-poll-suffix=',
    'cache-ttl=0',
    'negquery-cache-ttl=0',
    'query-cache-ttl=0',
    'receiver-threads=1',
    'distributor-threads=1',
    '',
  ].join('\n');
  await writeFile(join(dir, 'pdns.conf'), conf);

  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${apiUrl}/api/v1/servers/localhost${path}`, {
      ...init,
      headers: { 'X-API-Key': apiKey, 'Content-Type': 'application/json' },
    });
  const dig = digAt(port);
  let proc: ServerProcess | undefined;
  const startServer = async () => {
    proc = new ServerProcess({ name: 'pdns_server', command: pdns, args: [`--config-dir=${dir}`] });
    await waitUntilReady(proc, async () => (await api('')).ok, 15_000);
  };
  try {
    await startServer();
    for (const zone of zones) {
      const res = await api('/zones', {
        method: 'POST',
        body: JSON.stringify({ name: `${zone}.`, kind: 'Native', nameservers: [`ns.${zone}.`] }),
      });
      if (!res.ok) throw new Error(`creating zone ${zone}: HTTP ${res.status} ${await res.text()}`);
    }
    await waitUntilReady(proc!, async () => (await dig(zones[0]!, 'SOA')).length > 0, 15_000);
  } catch (err) {
    await proc?.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    apiUrl,
    apiKey,
    serverId: 'localhost',
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    zones,
    dig,
    ...restartControls(() => proc, startServer, dir),
  };
}
