import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Certificate,
  Certificates,
  CRDS,
  Issuers,
  inspectCertificate,
  LABEL_HTTP01,
  registerACMEServer,
  setupCertOperator,
} from '@chousei/cert-operator';
import {
  Client,
  controllerReference,
  createLogger,
  Gateways,
  HTTPRoutes,
  Manager,
  Secrets,
} from '@chousei/runtime';
import { type RunningManager, startManager, waitFor, waitForEvent } from '@chousei/runtime/testing';
import {
  createCA,
  freePort,
  installGatewayApi,
  issueCert,
  type Pebble,
  startConnectProxy,
  startPebble,
} from '@chousei/testenv';
import { sharedCluster } from '@chousei/testenv/vitest';
import * as acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusReport } from '../src/certs/status.js';
import { type Kubectl, pluginKubectl } from './kubectl.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const ecKey = () =>
  generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  }).privateKey;
const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

let kubectl: Kubectl;
let client: Client;
let kubeconfig: string;
let cluster: Awaited<ReturnType<typeof sharedCluster>>;

beforeAll(async () => {
  cluster = await sharedCluster();
  await cluster.apply(CRDS);
  client = new Client(cluster.kubeConfig);
  kubeconfig = await cluster.writeKubeconfig(cluster.kubeConfig, 'kubeconfig-plugin-certs');
  kubectl = await pluginKubectl();
});

/** `kubectl chousei ARGS --kubeconfig K`; kubectl refuses flags before a plugin's name. */
const chousei = (args: string[], env?: Record<string, string>) =>
  kubectl(['chousei', ...args, '--kubeconfig', kubeconfig], env);
const json = async <T>(args: string[]): Promise<T> => {
  const r = await chousei([...args, '-o', 'json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as T;
};

describe('certs status and inspect on given states (no operator running)', () => {
  let ns: string;
  let pebble: Pebble;

  /** Creates a Certificate and sets its status as an operator would have. */
  const certificate = async (
    name: string,
    issuer: string,
    status: Certificate['status'] = {},
  ): Promise<void> => {
    await client.create(Certificates, {
      metadata: { name, namespace: ns },
      spec: {
        secretName: `${name}-tls`,
        issuerRef: { name: issuer },
        dnsNames: [`${name}.example.test`],
      },
    });
    if (Object.keys(status).length)
      await client.patchStatus(
        Certificates,
        { namespace: ns, name },
        { type: 'merge', patch: { status } },
      );
  };
  const readyIssuer = async (name: string, spec: object, status: object = {}) => {
    await client.create(Issuers, { metadata: { name, namespace: ns }, spec });
    await client.patchStatus(
      Issuers,
      { namespace: ns, name },
      {
        type: 'merge',
        patch: {
          status: {
            ...status,
            conditions: [
              {
                type: 'Ready',
                status: 'True',
                reason: 'Ready',
                message: 'ready',
                lastTransitionTime: rfc3339(Date.now()),
              },
            ],
          },
        },
      },
    );
  };

  beforeAll(async () => {
    ns = await cluster.createNamespace('plugin-certs');
    pebble = await startPebble();
    await readyIssuer('self', { selfSigned: {} });
  });
  afterAll(async () => {
    // The second block runs an operator: leave it nothing of these to act on.
    await client.delete(Certificates, { namespace: ns, name: 'backoff' }).catch(() => {});
    await client.delete(Certificates, { namespace: ns, name: 'pending' }).catch(() => {});
    await client.delete(Certificates, { namespace: ns, name: 'unreachable' }).catch(() => {});
    await client.delete(Certificates, { namespace: ns, name: 'orphan' }).catch(() => {});
    await pebble?.stop();
  });

  it('says when the next attempt is due after failures, with the operator backoff flags', async () => {
    const failedAt = Math.floor(Date.now() / 1000) * 1000 - 10 * 60_000;
    await certificate('backoff', 'self', {
      observedGeneration: 1,
      failedIssuanceAttempts: 2,
      lastFailureTime: rfc3339(failedAt),
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'Failed',
          message: 'the CA said no',
          observedGeneration: 1,
          lastTransitionTime: rfc3339(failedAt),
        },
      ],
    });
    // Defaults: 1h doubling, so the third attempt waits 2h.
    const report = await json<StatusReport>(['certs', 'status', 'backoff', '-n', ns]);
    expect(report.failures).toEqual({
      attempts: 2,
      lastFailureTime: rfc3339(failedAt),
      nextAttemptTime: rfc3339(failedAt + 2 * 3_600_000),
      backoff: { initial: '1h', max: '1d8h' },
    });
    expect(report.verdict.state).toBe('Stuck');
    expect(report.verdict.message).toMatch(
      /^backing off after 2 failed attempts until \S+ \(in 1h(49|50)m\): Failed: the CA said no$/,
    );
    expect(report.secret).toMatchObject({ exists: false, upToDate: false, reason: 'DoesNotExist' });

    // The operator's flags (here through its environment variable) move the due time.
    const text = await chousei(['certs', 'status', 'backoff', '-n', ns, '--backoff-max', '3h'], {
      CHOUSEI_CERT_BACKOFF_INITIAL: '5m',
    });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`Certificate ${ns}/backoff`);
    expect(text.stdout).toMatch(/Failed attempts:\s+2\n/);
    expect(text.stdout).toContain(`Next attempt:     ${rfc3339(failedAt + 10 * 60_000)}`);
    expect(text.stdout).toMatch(/Secret backoff-tls: missing\n/);
    expect(text.stdout).toMatch(
      /\nVerdict: Waiting: the Secret needs issuing \(DoesNotExist: Secret backoff-tls does not exist.*\), and no issuance is in progress/,
    );
  });

  it('names the Gateway that asked for a Certificate and the HTTPRoute routing its HTTP-01 challenge', async () => {
    await installGatewayApi(cluster, 'standard');
    const gw = await client.create(Gateways, {
      metadata: { name: 'edge', namespace: ns },
      spec: { gatewayClassName: 'test', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
    });
    await client.create(Certificates, {
      metadata: {
        name: 'routed',
        namespace: ns,
        ownerReferences: [controllerReference(gw, Gateways)],
      },
      spec: {
        secretName: 'routed-tls',
        issuerRef: { name: 'self' },
        dnsNames: ['routed.example.test'],
      },
    });
    await client.patchStatus(
      Certificates,
      { namespace: ns, name: 'routed' },
      {
        type: 'merge',
        patch: { status: { acmeOrder: { url: 'https://acme.example.test/order/1' } } },
      },
    );
    // The temporary route the operator applies for the challenge, as it writes it.
    await client.create(HTTPRoutes, {
      metadata: {
        name: 'chousei-acme-http01-0123456789',
        namespace: ns,
        labels: { [LABEL_HTTP01]: 'true' },
      },
      spec: {
        parentRefs: [{ name: 'edge', namespace: 'gateways', sectionName: 'http' }],
        hostnames: ['routed.example.test'],
        rules: [{ backendRefs: [{ name: 'cert-operator-http01', port: 8089 }] }],
      },
    });
    const args = [
      'certs',
      'status',
      'routed',
      '-n',
      ns,
      '--skip-acme',
      '--cluster-resource-namespace',
      ns,
    ];
    const report = await json<StatusReport>(args);
    expect(report.requestedBy).toEqual({ kind: 'Gateway', name: 'edge' });
    expect(report.acmeOrder?.challengeRoutes).toEqual([
      {
        kind: 'HTTPRoute',
        namespace: ns,
        name: 'chousei-acme-http01-0123456789',
        host: 'routed.example.test',
        parents: ['Gateway gateways/edge'],
      },
    ]);
    const text = await chousei(args);
    expect(text.stdout).toMatch(
      new RegExp(`Requested by:\\s+Gateway ${ns}/edge \\(its shim annotations\\)\n`),
    );
    expect(text.stdout).toMatch(
      new RegExp(
        `HTTP-01 routed through:\n\\s+HTTPRoute ${ns}/chousei-acme-http01-0123456789\\s+routed\\.example\\.test\\s+parents: Gateway gateways/edge\n`,
      ),
    );
    await client.delete(Certificates, { namespace: ns, name: 'routed' });
  });

  it('names a missing issuer as the reason', async () => {
    await certificate('orphan', 'missing');
    const r = await chousei(['certs', 'status', 'orphan', '-n', ns]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`Issuer:\\s+Issuer ${ns}/missing \\(not found\\)\n`));
    expect(r.stdout).toContain('Conditions:\n  none yet');
    expect(r.stdout).toContain(`Verdict: Stuck: Issuer ${ns}/missing not found\n`);
  });

  it('reads the ACME order in progress from the ACME server, with the account key', async () => {
    // An order as an interrupted issuance leaves it: created, authorizations pending.
    const accountKey = ecKey();
    registerACMEServer(pebble.directoryUrl, pebble.tlsCaPem);
    const acmeClient = new acme.Client({ directoryUrl: pebble.directoryUrl, accountKey });
    await acmeClient.createAccount({ termsOfServiceAgreed: true });
    const order = await acmeClient.createOrder({
      identifiers: [{ type: 'dns', value: 'pending.example.test' }],
    });
    await client.create(Secrets, {
      metadata: { name: 'pebble-account', namespace: ns },
      data: { 'tls.key': b64(accountKey) },
    });
    // No account URL in the status: the plugin asks the server which account the key has.
    await readyIssuer('pebble', {
      acme: {
        server: pebble.directoryUrl,
        caBundle: b64(pebble.tlsCaPem),
        privateKeySecretRef: { name: 'pebble-account' },
        solvers: [{ http01: {} }],
      },
    });
    await certificate('pending', 'pebble', {
      acmeOrder: { url: order.url },
      conditions: [
        {
          type: 'Issuing',
          status: 'True',
          reason: 'DoesNotExist',
          message: 'Secret pending-tls does not exist',
          lastTransitionTime: rfc3339(Date.now()),
        },
      ],
    });
    const report = await json<StatusReport>(['certs', 'status', 'pending', '-n', ns]);
    expect(report.acmeOrder?.unavailable).toBeUndefined();
    expect(report.acmeOrder?.details).toMatchObject({ url: order.url, status: 'pending' });
    const [authz] = report.acmeOrder?.details?.authorizations ?? [];
    expect(authz).toMatchObject({ identifier: 'pending.example.test', status: 'pending' });
    expect(authz?.challenges.map((c) => c.type)).toEqual(
      expect.arrayContaining(['http-01', 'dns-01']),
    );
    expect(report.verdict).toEqual({
      state: 'Waiting',
      message: expect.stringMatching(
        /^ACME challenge for pending\.example\.test is pending \(offered: .*http-01/,
      ),
    });

    const text = await chousei(['certs', 'status', 'pending', '-n', ns]);
    expect(text.stdout).toContain(`ACME order: ${order.url}\n  Status: pending, expires`);
    expect(text.stdout).toMatch(/\n {4}pending\.example\.test\s+pending\s+\S+-01\s+pending/);
  });

  it('says so when the ACME server cannot be asked', async () => {
    const port = await freePort();
    await client.create(Secrets, {
      metadata: { name: 'gone-account', namespace: ns },
      data: { 'tls.key': b64(ecKey()) },
    });
    await readyIssuer(
      'gone',
      {
        acme: {
          server: `https://127.0.0.1:${port}/dir`,
          privateKeySecretRef: { name: 'gone-account' },
          solvers: [{ http01: {} }],
        },
      },
      { acme: { uri: `https://127.0.0.1:${port}/acct/1` } },
    );
    const url = `https://127.0.0.1:${port}/order/7`;
    await certificate('unreachable', 'gone', { acmeOrder: { url } });
    const report = await json<StatusReport>(['certs', 'status', 'unreachable', '-n', ns]);
    expect(report.acmeOrder?.unavailable).toMatch(
      new RegExp(`^reading ${url} failed: .*ECONNREFUSED`),
    );
    expect(report.verdict.state).toBe('Waiting');
    expect(report.verdict.message).toContain(`ACME order ${url} in progress (details unavailable:`);
    const skipped = await json<StatusReport>([
      'certs',
      'status',
      'unreachable',
      '-n',
      ns,
      '--skip-acme',
    ]);
    expect(skipped.acmeOrder?.unavailable).toBe('not asked (--skip-acme)');
  });

  it('inspects a TLS Secret: names, key, chain against ca.crt, key match, annotations', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plugin-pki-'));
    const ca = await createCA(dir, 'ca');
    const other = await createCA(dir, 'other');
    const leaf = await issueCert(ca, dir, 'leaf', {
      commonName: 'shop.example.test',
      dnsNames: ['shop.example.test', 'www.shop.example.test'],
      ipAddresses: ['192.0.2.4'],
      usage: 'server',
    });
    await client.create(Secrets, {
      metadata: {
        name: 'shop-tls',
        namespace: ns,
        labels: { 'cert.chousei.dev/managed': 'true', team: 'shop' },
        annotations: { 'cert.chousei.dev/certificate-name': 'shop', unrelated: 'x' },
      },
      type: 'kubernetes.io/tls',
      data: {
        'tls.crt': b64(leaf.certPem),
        'tls.key': b64(leaf.keyPem),
        'ca.crt': b64(ca.certPem),
      },
    });
    const serial = inspectCertificate(leaf.certPem).serialNumber;
    const r = await chousei(['certs', 'inspect', 'shop-tls', '-n', ns]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Secret ${ns}/shop-tls (kubernetes.io/tls)`);
    expect(r.stdout).toMatch(/Subject:\s+CN=shop\.example\.test\n/);
    expect(r.stdout).toMatch(/DNS names:\s+shop\.example\.test, www\.shop\.example\.test\n/);
    expect(r.stdout).toMatch(/IP addresses:\s+192\.0\.2\.4\n/);
    expect(r.stdout).toMatch(new RegExp(`Serial:\\s+${serial}\\n`));
    expect(r.stdout).toMatch(/Key:\s+ECDSA 256\n/);
    expect(r.stdout).toMatch(/Chain:\s+1 certificate in tls\.crt, verifies against ca\.crt\n/);
    expect(r.stdout).toMatch(/Private key:\s+tls\.key matches the certificate\n/);
    expect(r.stdout).toContain('  cert.chousei.dev/certificate-name=shop\n');
    expect(r.stdout).toContain('  cert.chousei.dev/managed=true\n');
    expect(r.stdout).not.toContain('unrelated');

    // A chain from another CA than ca.crt, and someone else's key.
    await client.create(Secrets, {
      metadata: { name: 'mixed-tls', namespace: ns },
      type: 'kubernetes.io/tls',
      data: {
        'tls.crt': b64(leaf.certPem + ca.certPem),
        'tls.key': b64(other.keyPem),
        'ca.crt': b64(other.certPem),
      },
    });
    const mixed = await json<{
      chain: Array<{ subject: string }>;
      chainVerification: { valid: boolean; reason: string };
      keyMatches: boolean;
    }>(['certs', 'inspect', 'mixed-tls', '-n', ns]);
    expect(mixed.chain.map((c) => c.subject)).toEqual([
      'CN=shop.example.test',
      expect.stringContaining('CN='),
    ]);
    expect(mixed.chainVerification.valid).toBe(false);
    expect(mixed.chainVerification.reason).toMatch(/was not issued by root/);
    expect(mixed.keyMatches).toBe(false);
  });

  it('fails with one line naming what is wrong', async () => {
    const missing = await chousei(['certs', 'status', 'nope', '-n', ns]);
    expect(missing).toMatchObject({
      code: 1,
      stdout: '',
      stderr: `error: certificate ${ns}/nope not found\n`,
    });
    const noSecret = await chousei(['certs', 'inspect', 'nope', '-n', ns]);
    expect(noSecret).toMatchObject({ code: 1, stderr: `error: secret ${ns}/nope not found\n` });
    await client.create(Secrets, {
      metadata: { name: 'opaque', namespace: ns },
      data: { a: b64('b') },
    });
    const opaque = await chousei(['certs', 'inspect', 'opaque', '-n', ns]);
    expect(opaque).toMatchObject({
      code: 1,
      stderr: `error: secret ${ns}/opaque has no tls.crt\n`,
    });
    const usage = await chousei(['certs', 'status']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('expects 1 operand (NAME), got 0');
    const format = await chousei(['certs', 'status', 'orphan', '-n', ns, '-o', 'yaml']);
    expect(format).toMatchObject({ code: 2 });
    expect(format.stderr).toContain('--output (CHOUSEI_CERT_OUTPUT) must be json; got "yaml"');
    const unknown = await chousei(['certs', 'frobnicate']);
    expect(unknown.stderr).toContain('unknown command "certs frobnicate" (status, renew, inspect)');
  });

  it('takes KUBECONFIG, --context and the context namespace as kubectl does', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plugin-kubeconfig-'));
    const kc = cluster.kubeConfig;
    const cfg = JSON.parse(kc.exportConfig()) as {
      contexts: Array<{ name: string; context: Record<string, string> }>;
      clusters: Array<{ name: string; cluster: Record<string, unknown> }>;
      'current-context': string;
    };
    cfg.clusters.push({ name: 'nowhere', cluster: { server: 'https://127.0.0.1:1' } });
    const admin = cfg.contexts[0]!;
    cfg.contexts = [
      { name: 'plugin', context: { ...admin.context, namespace: ns } },
      { name: 'nowhere', context: { ...admin.context, cluster: 'nowhere' } },
    ];
    cfg['current-context'] = 'nowhere';
    const file = join(dir, 'config');
    await writeFile(file, JSON.stringify(cfg));

    const viaEnv = await kubectl(['chousei', 'certs', 'status', 'orphan', '--context', 'plugin'], {
      KUBECONFIG: file,
    });
    expect(viaEnv.code).toBe(0);
    expect(viaEnv.stdout).toContain(`Certificate ${ns}/orphan`);
    const badContext = await kubectl(
      ['chousei', 'certs', 'status', 'orphan', '--context', 'nope'],
      {
        KUBECONFIG: file,
      },
    );
    expect(badContext).toMatchObject({ code: 1 });
    expect(badContext.stderr).toBe(
      `error: cannot load the kubeconfig: kubeconfig ${file}: context "nope" not found (contexts: plugin, nowhere)\n`,
    );
    const unreachable = await kubectl(['chousei', 'certs', 'status', 'orphan'], {
      KUBECONFIG: file,
    });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^error: cannot reach the API server: .*ECONNREFUSED/);
  });

  it("finding 16: merges the KUBECONFIG files and goes through the cluster's proxy-url, as kubectl does", async () => {
    const proxy = await startConnectProxy();
    try {
      const dir = await mkdtemp(join(tmpdir(), 'plugin-proxied-'));
      const cfg = JSON.parse(cluster.kubeConfig.exportConfig()) as {
        contexts: Array<{ name: string; context: Record<string, string> }>;
        clusters: Array<{ name: string; cluster: Record<string, unknown> }>;
        users: unknown[];
      };
      // The context and user in one file, the cluster (behind the proxy) in another.
      const first = join(dir, 'context');
      const second = join(dir, 'cluster');
      await writeFile(
        first,
        JSON.stringify({
          'current-context': 'plugin',
          contexts: [{ name: 'plugin', context: { ...cfg.contexts[0]!.context, namespace: ns } }],
          users: cfg.users,
        }),
      );
      await writeFile(
        second,
        JSON.stringify({
          clusters: cfg.clusters.map((c) => ({
            ...c,
            cluster: { ...c.cluster, 'proxy-url': proxy.url },
          })),
        }),
      );
      const r = await kubectl(['chousei', 'certs', 'status', 'orphan'], {
        KUBECONFIG: `${first}:${second}`,
      });
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain(`Certificate ${ns}/orphan`);
      const apiServer = new URL(cluster.url).host;
      expect(proxy.connects.length).toBeGreaterThan(0);
      expect(new Set(proxy.connects)).toEqual(new Set([apiServer]));
    } finally {
      await proxy.stop();
    }
  });
});

describe('certs status, renew and inspect with the cert-operator running', () => {
  let ns: string;
  let running: RunningManager;
  const webSubject = () => ({ kind: 'Certificate', namespace: ns, name: 'web' });
  const text = (name: string) =>
    client
      .get(Secrets, { namespace: ns, name })
      .then((s) => Buffer.from(s.data?.['tls.crt'] ?? '', 'base64').toString('utf8'))
      .catch(() => '');

  beforeAll(async () => {
    ns = await cluster.createNamespace('plugin-renew');
    const logger = createLogger({ level: process.env.TEST_LOG ?? 'silent' });
    const manager = new Manager({
      kubeConfig: cluster.kubeConfig,
      healthProbePort: false,
      metricsPort: false,
      logger,
    });
    setupCertOperator(manager, {
      clusterResourceNamespace: ns,
      http01SolverPort: 0,
      http01SolverHost: '127.0.0.1',
      backoff: { initialMs: 1000, maxMs: 4000 },
      logger,
    });
    running = await startManager(manager);
    await client.create(Issuers, {
      metadata: { name: 'self', namespace: ns },
      spec: { selfSigned: {} },
    });
    for (const name of ['web', 'api']) {
      await client.create(Certificates, {
        metadata: { name, namespace: ns },
        spec: {
          secretName: `${name}-tls`,
          issuerRef: { name: 'self' },
          dnsNames: [`${name}.example.test`],
        },
      });
    }
    await waitFor(async () => (await text('web-tls')) && (await text('api-tls')), {
      timeoutMs: 20_000,
    });
    await waitFor(
      async () =>
        (await client.get(Certificates, { namespace: ns, name: 'web' })).status?.conditions?.some(
          (c) => c.type === 'Ready' && c.status === 'True',
        ),
      { timeoutMs: 20_000 },
    );
    // The status report lists it; the operator writes it after the Ready status.
    await waitForEvent(client, webSubject(), (e) => e.reason === 'Issued');
  });
  afterAll(() => running?.stop());

  it('reports a healthy Certificate as Ready, with its Secret and Events', async () => {
    const r = await chousei(['certs', 'status', 'web', '-n', ns]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`Issuer:\\s+Issuer ${ns}/self \\(Ready\\)\n`));
    expect(r.stdout).toMatch(/\n {2}Ready\s+True\s+Ready\s+\S+ ago\s+Certificate is up to date/);
    expect(r.stdout).toMatch(/Renewal:\s+\S+ \(renews in 59d2\dh\)\n/);
    expect(r.stdout).toMatch(/Revision:\s+1\n/);
    expect(r.stdout).toContain('Failures: none\nACME order: none in progress\n');
    expect(r.stdout).toMatch(/Secret web-tls: up to date\n {2}serial [0-9a-f]+, valid until /);
    expect(r.stdout).toMatch(/Events:\n(.*\n)*.*Normal\s+Issued\s+Certificate issued, valid until/);
    expect(r.stdout).toMatch(
      /\nVerdict: Ready: the certificate is up to date; renews in 59d2\dh\n$/,
    );
  });

  it('renews on request: the operator issues a new certificate into the Secret', async () => {
    const before = await json<{ chain: Array<{ serialNumber: string }> }>([
      'certs',
      'inspect',
      'web-tls',
      '-n',
      ns,
    ]);
    const r = await chousei(['certs', 'renew', 'web', '-n', ns, '--wait']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `^certificate ${ns}/web: re-issuance requested\ncertificate ${ns}/web: issued revision 2, valid until \\S+\n$`,
      ),
    );
    const after = await json<{ chain: Array<{ serialNumber: string }> }>([
      'certs',
      'inspect',
      'web-tls',
      '-n',
      ns,
    ]);
    expect(after.chain[0]?.serialNumber).not.toBe(before.chain[0]?.serialNumber);
    // Revision 2 is no sign of its Event, written in the background (the first issuance's is there).
    await waitForEvent(
      client,
      webSubject(),
      (e) => e.reason === 'Issuing' && !!e.note?.includes('manually triggered'),
    );
    const report = await json<StatusReport>(['certs', 'status', 'web', '-n', ns]);
    expect(report.revision).toBe(2);
    expect(report.conditions.find((c) => c.type === 'Issuing')).toMatchObject({
      status: 'False',
      reason: 'Issued',
    });
    expect(report.events.map((e) => e.note)).toContainEqual(
      'Issuing certificate: Certificate re-issuance manually triggered',
    );
  });

  it('renews every Certificate of a namespace with --all', async () => {
    const before = { web: await text('web-tls'), api: await text('api-tls') };
    const results = await json<
      Array<{ name: string; requested: boolean; issued?: { revision: number } }>
    >(['certs', 'renew', '--all', '-n', ns, '--wait']);
    expect(results.map((x) => [x.name, x.requested]).sort()).toEqual([
      ['api', true],
      ['web', true],
    ]);
    expect(Object.fromEntries(results.map((x) => [x.name, x.issued?.revision]))).toEqual({
      api: 2,
      web: 3,
    });
    expect(await text('web-tls')).not.toBe(before.web);
    expect(await text('api-tls')).not.toBe(before.api);
  });

  it('refuses names it cannot find before asking anything', async () => {
    const r = await chousei(['certs', 'renew', 'api', 'nope', '-n', ns]);
    expect(r).toMatchObject({
      code: 1,
      stdout: '',
      stderr: `error: certificate ${ns}/nope not found\n`,
    });
    const both = await chousei(['certs', 'renew', 'api', '--all', '-n', ns]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give either Certificate names or --all');
  });
});
