import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goBuiltTool } from './controlplane.js';
import { createCA, issueCert } from './pki.js';
import { freePort } from './ports.js';
import { restartControls, ServerProcess, waitUntilReady } from './process.js';

export interface PebbleOptions {
  /** Port Pebble connects to for HTTP-01 validation (where the solver listens). */
  httpPort?: number;
  /** Port Pebble connects to for TLS-ALPN-01 validation. */
  tlsPort?: number;
  /** `host:port` of the DNS server Pebble resolves challenge names with (e.g. BIND9). */
  dnsServer?: string;
  /** Skip Pebble's random 0-15 s sleep before validating (default true). */
  noSleep?: boolean;
  /** Percentage of valid nonces Pebble rejects as badNonce (Pebble's default 5 when unset). */
  nonceRejectPercent?: number;
  /** External Account Binding keys (kid -> base64url HMAC key); makes EAB required. */
  eabKeys?: Record<string, string>;
  /** Extra environment, e.g. PEBBLE_VA_ALWAYS_VALID=1 or PEBBLE_CHAIN_LENGTH. */
  env?: Record<string, string>;
  /**
   * Run Pebble in another network (a node's namespace: `NodeNetwork`), listening on
   * `address` there, so that it validates challenges where that network's clients are.
   */
  network?: PebbleNetwork;
}

/** Another network namespace Pebble runs in, and the host's way into it. */
export interface PebbleNetwork {
  /** Where Pebble listens in it. */
  address: string;
  /** The command and arguments that run `command` in it. */
  exec(command: string, args: string[]): { command: string; args: string[] };
  /** A host loopback port forwarded to `target` in it. */
  expose(target: { host: string; port: number }): Promise<number>;
}

/** A running Pebble ACME server with its own TLS certificate. */
export interface Pebble {
  /** ACME directory URL, `https://127.0.0.1:PORT/dir` (in `network`: at its address). */
  directoryUrl: string;
  /** PEM of the CA that signed Pebble's TLS certificate: trust it in ACME clients. */
  tlsCaPem: string;
  /** Management API, `https://127.0.0.1:PORT` (reached from the host in any case). */
  managementUrl: string;
  /** PEM of the root that issued certificates chain to (new at every Pebble start). */
  rootCertificate(): Promise<string>;
  /** PEM of the intermediate that signs issued certificates. */
  intermediateCertificate(): Promise<string>;
  /** Stops Pebble, as an outage (start() brings it back with the same ports). */
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

/** Pebble: TEST_ASSET_PEBBLE, or the one build-controlplane.sh built from the Go proxy. */
export const pebbleBinary = () =>
  goBuiltTool('pebble', 'github.com/letsencrypt/pebble/v2', 'TEST_ASSET_PEBBLE');

/** Starts Pebble on free loopback ports. */
export async function startPebble(opts: PebbleOptions = {}): Promise<Pebble> {
  const pebbleBin = pebbleBinary();
  const dir = await mkdtemp(join(tmpdir(), 'chousei-pebble-'));
  const ca = await createCA(dir, 'pebble-tls-ca');
  const host = opts.network?.address ?? '127.0.0.1';
  const tls = await issueCert(ca, dir, 'pebble', {
    commonName: 'pebble',
    dnsNames: ['localhost', 'pebble'],
    ipAddresses: [...new Set(['127.0.0.1', host])],
    usage: 'server',
  });
  const [port, mgmtPort] = [await freePort(), await freePort()];
  const config = {
    pebble: {
      listenAddress: `${host}:${port}`,
      managementListenAddress: `${host}:${mgmtPort}`,
      certificate: tls.certPath,
      privateKey: tls.keyPath,
      httpPort: opts.httpPort ?? 5002,
      tlsPort: opts.tlsPort ?? 5001,
      ocspResponderURL: '',
      externalAccountBindingRequired: !!opts.eabKeys,
      ...(opts.eabKeys ? { externalAccountMACKeys: opts.eabKeys } : {}),
    },
  };
  const configPath = join(dir, 'pebble-config.json');
  await writeFile(configPath, JSON.stringify(config, null, 2));
  // From the host: the ports themselves, or forwards into Pebble's network.
  const reach = (p: number) => opts.network?.expose({ host, port: p }) ?? Promise.resolve(p);
  const [hostPort, hostMgmtPort] = [await reach(port), await reach(mgmtPort)];
  const managementUrl = `https://127.0.0.1:${hostMgmtPort}`;

  const get = (url: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      // Pebble refuses a request without a User-Agent, as RFC 8555 6.1 allows.
      const headers = { 'User-Agent': 'chousei-testenv' };
      const req = request(url, { ca: ca.certPem, timeout: 5000, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error(`timeout fetching ${url}`)));
      req.end();
    });

  const env: Record<string, string> = { ...opts.env };
  if (opts.noSleep ?? true) env.PEBBLE_VA_NOSLEEP = '1';
  if (opts.nonceRejectPercent !== undefined) {
    env.PEBBLE_WFE_NONCEREJECT = String(opts.nonceRejectPercent);
  }
  const args = ['-config', configPath, '-strict=false'];
  if (opts.dnsServer) args.push('-dnsserver', opts.dnsServer);

  let proc: ServerProcess | undefined;
  const startServer = async () => {
    const cmd = opts.network?.exec(pebbleBin, args) ?? { command: pebbleBin, args };
    proc = new ServerProcess({ name: 'pebble', ...cmd, env });
    await waitUntilReady(
      proc,
      async () => (await get(`https://127.0.0.1:${hostPort}/dir`)).status === 200,
      15_000,
    );
  };
  const pem = async (path: string) => {
    const res = await get(`${managementUrl}${path}`);
    if (res.status !== 200) throw new Error(`pebble ${path}: HTTP ${res.status}`);
    return res.body;
  };
  try {
    await startServer();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    directoryUrl: `https://${host}:${port}/dir`,
    tlsCaPem: ca.certPem,
    managementUrl,
    rootCertificate: () => pem('/roots/0'),
    intermediateCertificate: () => pem('/intermediates/0'),
    ...restartControls(() => proc, startServer, dir),
  };
}
