import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RFC2136Provider, type Zone } from '@chousei/dns';
import { Client, type Event, Events } from '@chousei/runtime';
import { type RunningManager, waitFor, waitForCondition } from '@chousei/runtime/testing';
import {
  type Bind9,
  type DnsGate,
  freePort,
  type Pebble,
  startBind9,
  startDnsGate,
  startPebble,
} from '@chousei/testenv';
import { sharedCluster } from '@chousei/testenv/vitest';
import type * as acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRDS } from '../src/api/crds.js';
import { type Certificate, Certificates } from '../src/api/types.js';
import { ConfigError, parseConfig } from '../src/config.js';
import { IssuanceError, type IssuanceProgress } from '../src/issuance.js';
import { registerACMEServer } from '../src/issuers/acme/http.js';
import { HTTP01SelfCheckedSolver, type Solver } from '../src/solvers/index.js';
import { startCertOperator } from './operator.js';
import { ordersOf, pebbleIssuer } from './pebble-account.js';

const ZONE = 'example.test';
const PREFIX = '/.well-known/acme-challenge/';

/** BIND9's zone through RFC2136, as the dns-operator would publish an Ingress's address. */
function publisher(bind: Bind9) {
  const provider = new RFC2136Provider({
    host: bind.host,
    port: bind.port,
    zones: bind.zones,
    tsig: bind.tsig,
  });
  const zone = async (): Promise<Zone> => (await provider.zones())[0]!;
  return {
    /** Sets the A record of `name` to `ip` (creating it when missing). */
    async publish(name: string, ip: string): Promise<void> {
      const z = await zone();
      const current = (await provider.records(z)).find((r) => r.name === name && r.type === 'A');
      const record = { name, type: 'A' as const, ttl: 60, values: [ip] };
      const { failed } = await provider.apply(z, [
        current ? { action: 'update', old: current, record } : { action: 'create', record },
      ]);
      expect(failed).toEqual([]);
    },
  };
}

describe('HTTP01SelfCheckedSolver', () => {
  let bind: Bind9;
  let dns: ReturnType<typeof publisher>;
  let port: number;
  /** What the challenge server does with the next request. */
  let respond: (req: IncomingMessage, res: ServerResponse) => void;
  const server = createServer((req, res) => respond(req, res));
  const presented: string[] = [];
  const inner: Solver = {
    type: 'http-01',
    present: async (ch) => void presented.push(ch.token),
    cleanUp: async () => {},
  };
  const solver = (timeoutMs = 20_000) =>
    new HTTP01SelfCheckedSolver(inner, {
      port,
      nameservers: [bind],
      timeoutMs,
      intervalMs: 50,
      maxIntervalMs: 100,
    });
  const challenge = (identifier: string, reports: IssuanceProgress[] = []) => ({
    identifier,
    token: 'tok',
    keyAuthorization: 'tok.thumbprint',
    progress: (r: IssuanceProgress) => void reports.push(r),
  });

  beforeAll(async () => {
    bind = await startBind9({ zones: [ZONE] });
    dns = publisher(bind);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    server.close();
    await bind?.stop();
  });

  it('waits through NXDOMAIN, a refused connection, 404 and a wrong body, follows a redirect, and reports each change once', async () => {
    respond = (_req, res) => res.writeHead(404).end('not found');
    const reports: IssuanceProgress[] = [];
    const pending = (what: string) =>
      waitFor(() => reports.some((r) => r.message.includes(what)), {
        timeoutMs: 10_000,
        description: `a report of ${what}`,
      });
    let done = false;
    const presenting = solver()
      .present(challenge('late.example.test', reports))
      .then(() => {
        done = true;
      });
    await pending('DNS NXDOMAIN for late.example.test');
    // Published, but to an address nothing listens on (the server is on 127.0.0.1 only).
    await dns.publish('late.example.test', '127.0.0.2');
    await pending(`127.0.0.2:${port}: connection refused`);
    await dns.publish('late.example.test', '127.0.0.1');
    await pending('HTTP 404');
    respond = (_req, res) => res.writeHead(200).end('<html>default backend</html>');
    await pending('HTTP 200 with another body: "<html>default backend</html>"');
    expect(done).toBe(false);
    // An ingress controller redirecting to https would do, as would this.
    await dns.publish('elsewhere.example.test', '127.0.0.1');
    respond = (req, res) => {
      if (req.url?.startsWith(PREFIX)) {
        res.writeHead(302, { Location: `http://elsewhere.example.test:${port}/moved` }).end();
      } else if (req.url === '/moved' && req.headers.host === `elsewhere.example.test:${port}`) {
        res.writeHead(200).end('tok.thumbprint\n');
      } else res.writeHead(404).end();
    };
    await presenting;
    expect(presented).toContain('tok');

    const url = `http://late.example.test:${port}${PREFIX}tok`;
    console.log(reports.map((r) => `${r.reason}: ${r.message}`).join('\n'));
    expect(reports.map((r) => r.reason)).toEqual([
      'SelfCheckPending',
      'SelfCheckPending',
      'SelfCheckPending',
      'SelfCheckPending',
      'SelfCheckPassed',
    ]);
    for (const r of reports) {
      expect(r.subject).toBe('late.example.test');
      expect(r.message).toContain(url);
    }
  });

  it('fails after its timeout, naming the URL and what it saw last', async () => {
    const started = performance.now();
    const err = await solver(600)
      .present(challenge('never.example.test'))
      .catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(err).toBeInstanceOf(IssuanceError);
    const e = err as IssuanceError;
    console.log(`SelfCheckTimeout message: ${e.message}`);
    expect(e).toMatchObject({ reason: 'SelfCheckTimeout', retryable: true });
    expect(e.message).toContain(`http://never.example.test:${port}${PREFIX}tok`);
    expect(e.message).toContain(`DNS NXDOMAIN for never.example.test (${bind.address})`);
    expect(e.message).toContain('the CA was not asked to validate');
  });

  it('refuses redirects the CA would not follow', async () => {
    for (const [location, what] of [
      ['ftp://127.0.0.1/x', 'the CA follows only http and https'],
      [`http://127.0.0.1:1/x`, 'the CA follows only ports 80 and 443'],
    ] as const) {
      respond = (_req, res) => res.writeHead(301, { Location: location }).end();
      const err = await solver(300)
        .present(challenge('127.0.0.1'))
        .catch((e: unknown) => e);
      expect((err as Error).message).toContain(what);
    }
    respond = (req, res) => res.writeHead(302, { Location: req.url ?? '/' }).end();
    const loop = await solver(300)
      .present(challenge('127.0.0.1'))
      .catch((e: unknown) => e);
    expect((loop as Error).message).toContain('more than 10 redirects');
  });

  it('checks IP addresses without DNS, and names with the system resolver by default', async () => {
    respond = (_req, res) => res.writeHead(200).end('tok.thumbprint \r\n');
    const reports: IssuanceProgress[] = [];
    await solver().present(challenge('127.0.0.1', reports));
    // localhost from /etc/hosts: ::1 first (refused: the server is on 127.0.0.1), then 127.0.0.1.
    await new HTTP01SelfCheckedSolver(inner, { port, timeoutMs: 2000 }).present(
      challenge('localhost', reports),
    );
    expect(reports).toEqual([]);
  });
});

describe('cert-operator with the HTTP-01 self-check (Pebble resolving through BIND9)', () => {
  let bind: Bind9;
  let gate: DnsGate;
  let pebble: Pebble;
  let dns: ReturnType<typeof publisher>;
  let client: Client;
  let ns: string;
  let solverPort: number;
  let running: RunningManager;
  const SELF_CHECK_TIMEOUT_MS = 10_000;

  /** The order's only authorization and its HTTP-01 challenge, as Pebble has them. */
  async function challengeOf(account: acme.Client, orderUrl: string) {
    const order = await account.getOrder({ url: orderUrl } as acme.Order);
    const [authz] = await account.getAuthorizations(order);
    return { order, authz, challenge: authz?.challenges.find((c) => c.type === 'http-01') };
  }

  /** Whether Pebble's VA looked the name up (its only way to the solver). */
  const pebbleLookedUp = (name: string) =>
    gate.queries.some((q) => q.name === name && (q.type === 'A' || q.type === 'AAAA'));

  const certificate = (name: string) => client.get(Certificates, { namespace: ns, name });
  /** A Certificate for NAME.example.test from its own ACME Issuer, created before NAME resolves. */
  async function certificateFor(name: string) {
    const account = await pebbleIssuer(client, pebble, ns, name);
    const host = `${name}.${ZONE}`;
    await client.create(Certificates, {
      metadata: { name, namespace: ns },
      spec: { secretName: `${name}-tls`, issuerRef: { name }, dnsNames: [host] },
    });
    return { account, host };
  }
  /** The Certificate once its Issuing condition tells of the self-check's NXDOMAIN. */
  const selfCheckWaiting = (name: string) =>
    waitFor(
      async () => {
        const c = await certificate(name);
        return condition(c, 'Issuing')?.message.includes('NXDOMAIN') && c;
      },
      { timeoutMs: 20_000, description: 'the Issuing condition telling of the self-check' },
    );
  /**
   * Publishes the Certificate's name, then waits for it to be Ready: issued once, without a
   * failed attempt, from `orderUrl` and no other order.
   */
  async function issuedOnPublish(
    name: string,
    { account, host }: Awaited<ReturnType<typeof certificateFor>>,
    orderUrl: string | undefined,
  ): Promise<Certificate> {
    await dns.publish(host, '127.0.0.1');
    const issued = await waitForCondition(client, Certificates, { namespace: ns, name }, 'Ready', {
      timeoutMs: 20_000,
    });
    expect(issued.status?.revision).toBe(1);
    expect(issued.status?.failedIssuanceAttempts).toBeUndefined();
    expect(await ordersOf(account)).toEqual([orderUrl]);
    return issued;
  }
  const condition = (c: Certificate, type: string) =>
    c.status?.conditions?.find((x) => x.type === type);
  const eventsOf = async (name: string): Promise<Event[]> =>
    (await client.list(Events, { namespace: ns })).filter(
      (e) => e.regarding?.kind === 'Certificate' && e.regarding.name === name,
    );

  beforeAll(async () => {
    // No records: names resolve only once a test publishes them.
    bind = await startBind9({ zones: [ZONE] });
    dns = publisher(bind);
    gate = await startDnsGate(bind);
    solverPort = await freePort();
    pebble = await startPebble({ httpPort: solverPort, dnsServer: gate.address });
    registerACMEServer(pebble.directoryUrl, pebble.tlsCaPem);
    const cluster = await sharedCluster();
    await cluster.apply(CRDS);
    ns = await cluster.createNamespace('selfcheck');
    client = new Client(cluster.kubeConfig);
    ({ running } = await startOperator());
  });
  const startOperator = () =>
    startCertOperator(
      {
        clusterResourceNamespace: ns,
        http01SolverPort: solverPort,
        http01SolverHost: '127.0.0.1',
        // Where Pebble looks: BIND9 directly (Pebble goes through the gate), Pebble's HTTP port.
        http01SelfCheck: {
          port: solverPort,
          nameservers: [bind],
          timeoutMs: SELF_CHECK_TIMEOUT_MS,
        },
        backoff: { initialMs: 2000, maxMs: 4000 },
      },
      { level: 'warn' },
    );
  afterAll(async () => {
    await running?.stop();
    await pebble?.stop();
    await gate?.stop();
    await bind?.stop();
  });

  it('does not ask Pebble to validate until the name resolves, says why meanwhile, then issues from one order', async () => {
    const { account, host } = await certificateFor('late');
    const waiting = await selfCheckWaiting('late');
    const issuing = condition(waiting, 'Issuing')!;
    console.log(`Issuing while waiting: ${issuing.reason}: ${issuing.message}`);
    expect(issuing).toMatchObject({ status: 'True', reason: 'DoesNotExist' });
    expect(issuing.message).toContain(`HTTP-01 self-check: http://${host}:${solverPort}${PREFIX}`);
    expect(issuing.message).toContain(`DNS NXDOMAIN for ${host}`);
    const pendingEvent = await waitFor(
      async () => (await eventsOf('late')).find((e) => e.reason === 'SelfCheckPending'),
      { timeoutMs: 10_000, description: 'a SelfCheckPending Event' },
    );
    expect(pendingEvent.type).toBe('Normal');
    expect(pendingEvent.note).toContain(`DNS NXDOMAIN for ${host}`);

    // Some checks later, Pebble still has not been asked: the challenge is untouched.
    await new Promise((r) => setTimeout(r, 1500));
    const orderUrl = waiting.status!.acmeOrder!.url;
    const before = await challengeOf(account, orderUrl);
    expect(before.order.status).toBe('pending');
    expect(before.authz?.status).toBe('pending');
    expect(before.challenge?.status).toBe('pending');
    expect(before.challenge?.validated).toBeUndefined();
    expect(pebbleLookedUp(host)).toBe(false);

    const published = performance.now();
    await issuedOnPublish('late', { account, host }, orderUrl);
    console.log(`published to Ready: ${(performance.now() - published).toFixed(0)} ms`);
    expect(pebbleLookedUp(host)).toBe(true);
    expect((await challengeOf(account, orderUrl)).challenge?.status).toBe('valid');
    await waitFor(
      async () => (await eventsOf('late')).some((e) => e.reason === 'SelfCheckPassed'),
      {
        timeoutMs: 10_000,
        description: 'a SelfCheckPassed Event',
      },
    );
    // The wait never looked like a failure.
    expect((await eventsOf('late')).filter((e) => e.type === 'Warning')).toEqual([]);
  });

  it('gives up after its timeout without asking Pebble, backs off, then resumes that order', async () => {
    const started = performance.now();
    const { account, host } = await certificateFor('never');
    const failed = await waitFor(
      async () => {
        const c = await certificate('never');
        return (c.status?.failedIssuanceAttempts ?? 0) >= 1 && c;
      },
      { timeoutMs: SELF_CHECK_TIMEOUT_MS + 20_000, description: 'the first attempt failing' },
    );
    const ms = performance.now() - started;
    console.log(`self-check timeout after ${ms.toFixed(0)} ms`);
    expect(ms).toBeGreaterThanOrEqual(SELF_CHECK_TIMEOUT_MS);
    const ready = condition(failed, 'Ready')!;
    console.log(`Ready: ${ready.reason}: ${ready.message}`);
    expect(ready).toMatchObject({ status: 'False', reason: 'SelfCheckTimeout' });
    expect(ready.message).toContain(`http://${host}:${solverPort}${PREFIX}`);
    expect(ready.message).toContain(`last: DNS NXDOMAIN for ${host}`);
    expect(ready.message).toContain('the CA was not asked to validate');
    expect(condition(failed, 'Issuing')).toMatchObject({ status: 'False', reason: 'Failed' });
    expect(condition(failed, 'Issuing')?.message).toMatch(/; retrying in 2 s$/);
    const failure = await waitFor(
      async () => (await eventsOf('never')).find((e) => e.reason === 'Failed'),
      { timeoutMs: 10_000, description: 'a Failed Event' },
    );
    expect(failure.type).toBe('Warning');
    expect(failure.note).toContain('SelfCheckTimeout');

    // The order stays for the next attempt: Pebble was never asked about it.
    const orderUrl = failed.status?.acmeOrder?.url;
    expect(orderUrl).toBeDefined();
    const untouched = await challengeOf(account, orderUrl!);
    expect(untouched.challenge?.status).toBe('pending');
    expect(untouched.challenge?.validated).toBeUndefined();
    expect(pebbleLookedUp(host)).toBe(false);

    await issuedOnPublish('never', { account, host }, orderUrl);
  }, 60_000);

  it('stopped while its self-check waits: it stops at once, and the next operator resumes that order', async () => {
    const { account, host } = await certificateFor('handover');
    const waiting = await selfCheckWaiting('handover');
    const orderUrl = waiting.status?.acmeOrder?.url;
    const stopping = performance.now();
    await running.stop();
    const ms = performance.now() - stopping;
    console.log(`stopped while the self-check waits: shutdown took ${ms.toFixed(0)} ms`);
    // Not the self-check's 10 s (nor the 30 s grace period): nothing was submitted to wait for.
    expect(ms).toBeLessThan(5000);

    ({ running } = await startOperator());
    // The wait cut short was no failed attempt, and the order placed before it was resumed.
    await issuedOnPublish('handover', { account, host }, orderUrl);
  }, 60_000);
});

describe('the self-check flags', () => {
  it('default to port 80, the system resolver and 2 minutes', () => {
    expect(parseConfig([], {}).http01SelfCheck).toEqual({
      port: 80,
      nameservers: [],
      timeoutMs: 120_000,
    });
  });

  it('take nameservers as IP[:PORT] lists, from flags or the environment', () => {
    const argv = [
      '--http01-self-check-nameservers=10.0.0.10,10.0.0.11:5353',
      '--http01-self-check-nameservers=[fd00::53]:53',
      '--http01-self-check-port=8080',
      '--http01-self-check-timeout=30s',
    ];
    expect(parseConfig(argv, {}).http01SelfCheck).toEqual({
      port: 8080,
      nameservers: [
        { host: '10.0.0.10', port: 53 },
        { host: '10.0.0.11', port: 5353 },
        { host: 'fd00::53', port: 53 },
      ],
      timeoutMs: 30_000,
    });
    const env = { CHOUSEI_CERT_HTTP01_SELF_CHECK_NAMESERVERS: '127.0.0.1:53, ::1' };
    expect(parseConfig([], env).http01SelfCheck.nameservers).toEqual([
      { host: '127.0.0.1', port: 53 },
      { host: '::1', port: 53 },
    ]);
    expect(() => parseConfig(['--http01-self-check-nameservers=dns.example.com'], {})).toThrow(
      ConfigError,
    );
    expect(() => parseConfig(['--http01-self-check-nameservers=10.0.0.1:99999'], {})).toThrow(
      /--http01-self-check-nameservers \(CHOUSEI_CERT_HTTP01_SELF_CHECK_NAMESERVERS\) must be IP or IP:PORT/,
    );
  });
});
