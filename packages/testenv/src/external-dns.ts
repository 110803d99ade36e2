import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parse } from 'yaml';
import type { TsigKey } from './bind9.js';
import { goBuiltTool } from './controlplane.js';
import { freePort } from './ports.js';
import { restartControls, ServerProcess, waitUntilReady } from './process.js';

const MODULE = 'sigs.k8s.io/external-dns';

/** What build-controlplane.sh keys the external-dns builds on, besides the version. */
const HASHED = ['go.mod', 'go.sum', 'webhook/main.go'];

/** external-dns itself: TEST_ASSET_EXTERNAL_DNS, or the build of go/external-dns. */
export const externalDnsBinary = () =>
  goBuiltTool('external-dns', MODULE, 'TEST_ASSET_EXTERNAL_DNS', { hashed: HASHED });

/** go/external-dns/webhook: external-dns's webhook API server in front of its own providers. */
export const externalDnsWebhookBinary = () =>
  goBuiltTool('external-dns', MODULE, 'TEST_ASSET_EXTERNAL_DNS_WEBHOOK', {
    binary: 'external-dns-webhook',
    hashed: HASHED,
  });

/** external-dns's DNSEndpoint CRD (externaldns.k8s.io/v1alpha1), from its module. */
export async function externalDnsCrd(): Promise<KubernetesObject> {
  return parse(
    await readFile(join(dirname(externalDnsBinary()), 'dnsendpoints.yaml'), 'utf8'),
  ) as KubernetesObject;
}

/**
 * One sync of external-dns itself (`--once`) with `args`: no Events, and no metrics port to
 * collide with a parallel run. Resolves with its exit code and everything it logged.
 */
export function externalDnsOnce(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      externalDnsBinary(),
      [...args, '--once', '--log-level=debug', '--metrics-address=127.0.0.1:0'],
      { timeout: 60_000, env: { ...process.env, ...env } },
      (err, stdout, stderr) =>
        resolve({
          code: err ? ((err as { code?: number }).code ?? 1) : 0,
          output: stdout + stderr,
        }),
    );
  });
}

/** Which of external-dns's providers serves the webhook API. */
export type ExternalDnsBackend =
  | { provider: 'inmemory'; zones: string[] }
  | {
      provider: 'rfc2136';
      /** A DNS server taking TSIG-signed updates and transfers, e.g. testenv's BIND9. */
      server: { host: string; port: number; zones: string[]; tsig: TsigKey };
    };

export interface ExternalDnsWebhookOptions {
  backend: ExternalDnsBackend;
  /** external-dns's --domain-filter: what `GET /` announces. Default none. */
  domainFilter?: string[];
}

/** A running webhook provider: external-dns's own API server and provider. */
export interface ExternalDnsWebhook {
  /** `http://127.0.0.1:PORT`: the provider API (`GET /`, `/records`, `/adjustendpoints`). */
  url: string;
  /** `http://127.0.0.1:PORT/healthz`, served on its own port as sidecars do. */
  healthUrl: string;
  /** Stops it, as an outage; startServer() brings it back (the in-memory one empty). */
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

function providerArgs(backend: ExternalDnsBackend): string[] {
  if (backend.provider === 'inmemory') {
    return ['--provider=inmemory', ...backend.zones.map((z) => `--inmemory-zone=${z}`)];
  }
  const { server } = backend;
  return [
    '--provider=rfc2136',
    `--rfc2136-host=${server.host}`,
    `--rfc2136-port=${server.port}`,
    ...server.zones.map((z) => `--rfc2136-zone=${z}`),
    `--rfc2136-tsig-keyname=${server.tsig.name}`,
    `--rfc2136-tsig-secret=${server.tsig.secret}`,
    `--rfc2136-tsig-secret-alg=${server.tsig.algorithm}`,
    '--rfc2136-axfr',
  ];
}

/**
 * Starts go/external-dns/webhook on free loopback ports: external-dns's provider/webhook/api
 * server, unchanged, in front of its in-memory provider or its RFC2136 provider.
 */
export async function startExternalDnsWebhook(
  opts: ExternalDnsWebhookOptions,
): Promise<ExternalDnsWebhook> {
  const bin = externalDnsWebhookBinary();
  const [port, healthPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${port}`;
  const healthUrl = `http://127.0.0.1:${healthPort}/healthz`;
  const args = [
    `--listen=127.0.0.1:${port}`,
    `--health=127.0.0.1:${healthPort}`,
    '--',
    ...providerArgs(opts.backend),
    ...(opts.domainFilter ?? []).map((d) => `--domain-filter=${d}`),
  ];
  let proc: ServerProcess | undefined;
  const startServer = async () => {
    proc = new ServerProcess({ name: 'external-dns-webhook', command: bin, args });
    await waitUntilReady(
      proc,
      async () => (await fetch(healthUrl)).ok && (await fetch(`${url}/`)).ok,
      15_000,
    );
  };
  await startServer();
  return {
    url,
    healthUrl,
    ...restartControls(() => proc, startServer),
  };
}
