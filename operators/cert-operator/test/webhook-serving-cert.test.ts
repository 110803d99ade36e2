import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import {
  ApiError,
  Client,
  createLogger,
  ForbiddenError,
  Leases,
  metricsRegistry,
  Namespaces,
  Secrets,
  Services,
  ServingCert,
  type ValidatingWebhookConfiguration,
  ValidatingWebhookConfigurations,
  type WebhookServer,
} from '@chousei/runtime';
import { waitFor } from '@chousei/runtime/testing';
import { type Cluster, freePort, parseMetrics, sumMetric } from '@chousei/testenv';
import { operatorKubeConfig, operatorServiceAccount, sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRDS } from '../src/api/crds.js';
import { type Certificate, Certificates } from '../src/api/types.js';
import { ConfigError, parseConfig } from '../src/config.js';
import {
  createCsr,
  generatePrivateKey,
  inspectCertificate,
  signCertificate,
  verifyChain,
} from '../src/pki/index.js';
import { webhookConfiguration } from '../src/webhook/index.js';
import { startCertOperator } from './operator.js';
import { secretText } from './secret-text.js';

const DAY = 86_400_000;
const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
const caBundles = (config: ValidatingWebhookConfiguration) =>
  (config.webhooks ?? []).map((w) =>
    Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString('utf8'),
  );

describe('self-managed webhook serving certificate: flags', () => {
  const flags = [
    '--webhook-secret',
    'cert-operator-webhook-tls',
    '--webhook-service',
    'cert-operator-webhook',
  ];

  it('needs no cert dir, and takes the configuration from a flag or its variable', () => {
    expect(parseConfig(flags, {}).webhook).toEqual({
      port: 9443,
      servingCert: {
        secretName: 'cert-operator-webhook-tls',
        serviceName: 'cert-operator-webhook',
      },
    });
    expect(
      parseConfig(['--webhook-cert-dir', '/tmp/certs'], {
        CHOUSEI_CERT_WEBHOOK_SECRET: 's',
        CHOUSEI_CERT_WEBHOOK_SERVICE: 'svc',
        CHOUSEI_CERT_WEBHOOK_CONFIGURATION: 'chousei-cert-operator',
      }).webhook,
    ).toEqual({
      port: 9443,
      certDir: '/tmp/certs',
      servingCert: {
        secretName: 's',
        serviceName: 'svc',
        webhookConfigurationName: 'chousei-cert-operator',
      },
    });
  });

  it('names the flag in every refusal', () => {
    const refusal = (argv: string[]) => {
      try {
        parseConfig(argv, {});
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refusal(['--webhook-secret', 's'])).toBe(
      '--webhook-secret (CHOUSEI_CERT_WEBHOOK_SECRET) needs --webhook-service (CHOUSEI_CERT_WEBHOOK_SERVICE): the serving certificate is for that Service',
    );
    expect(refusal(['--webhook-service', 'svc'])).toBe(
      '--webhook-service (CHOUSEI_CERT_WEBHOOK_SERVICE) needs --webhook-secret (CHOUSEI_CERT_WEBHOOK_SECRET)',
    );
    expect(refusal(['--webhook-configuration', 'c', '--webhook-cert-dir', '/c'])).toMatch(
      /^--webhook-configuration .* needs --webhook-secret/,
    );
    expect(refusal([...flags, '--webhook-service', 'Web_hook'])).toBe(
      '--webhook-service (CHOUSEI_CERT_WEBHOOK_SERVICE) must be a Service name (a DNS label); got "Web_hook"',
    );
    expect(refusal(['--webhook-secret', 'a/b', '--webhook-service', 'svc'])).toMatch(
      /^--webhook-secret .* must be a Secret name/,
    );
  });
});

/** A webhook CA as the operator makes one, `ageMs` old, living `lifetimeMs` in all. */
function backdatedCA(ageMs: number, lifetimeMs: number) {
  const caKey = generatePrivateKey();
  const now = new Date(Date.now() - ageMs);
  const caCert = signCertificate({
    csrPem: createCsr({
      privateKeyPem: caKey,
      commonName: 'an earlier webhook CA',
      dnsNames: [],
      ipAddresses: [],
      isCA: true,
    }),
    issuerKeyPem: caKey,
    durationMs: lifetimeMs,
    usages: [],
    isCA: true,
    selfSigned: true,
    now,
  });
  return { caCert, caKey };
}

/** The names the operator's serving certificate is for: the Service's in-cluster names. */
const serviceDnsNames = (service: string, namespace: string) => [
  `${service}.${namespace}.svc`,
  `${service}.${namespace}.svc.cluster.local`,
];

/** A serving certificate for the Service, signed by `ca` (ending with it at the latest). */
function leafFrom(
  ca: { caCert: string; caKey: string },
  names: string[],
  durationMs = 365 * DAY,
  now = new Date(),
) {
  const key = generatePrivateKey();
  const cert = signCertificate({
    csrPem: createCsr({ privateKeyPem: key, dnsNames: names, ipAddresses: [] }),
    issuerCertPem: ca.caCert,
    issuerKeyPem: ca.caKey,
    durationMs,
    usages: [],
    now,
  });
  return { ...ca, cert, key };
}

const LABEL = 'cert.chousei.dev/serving-cert-test';
const SECRET = 'cert-operator-webhook-tls';
const SERVICE = 'cert-operator-webhook';

/** The fingerprint of what a TLS server presents for `servername`, verified against `caPem`. */
function servedCertificate(port: number, servername: string, caPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, ca: caPem }, () => {
      const raw = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
      socket.end();
      resolve(raw);
    });
    socket.on('error', reject);
  });
}

interface Replica {
  webhook: WebhookServer;
  servingCert: ServingCert;
  stop(): Promise<void>;
}

describe('the operator keeps its webhook serving certificate, behind a real kube-apiserver', () => {
  const run = Math.random().toString(36).slice(2, 8);
  const labels = { [LABEL]: run };
  const configName = `chousei-cert-serving-test-${run}`;
  const logs: string[] = [];
  let cluster: Cluster;
  let client: Client;
  let ns: string;
  let port: number;
  const replicas: Replica[] = [];
  let registered = false;

  /** An operator replica, started with the flags a Deployment would give it. */
  async function startReplica(webhookPort: number): Promise<Replica> {
    const config = parseConfig(
      [
        '--cluster-resource-namespace',
        ns,
        '--webhook-port',
        String(webhookPort),
        '--webhook-secret',
        SECRET,
        '--webhook-service',
        SERVICE,
        '--webhook-configuration',
        configName,
      ],
      {},
    );
    const {
      operator: { webhook, servingCert },
      running,
    } = await startCertOperator(
      {
        clusterResourceNamespace: config.clusterResourceNamespace,
        http01SolverPort: 0,
        http01SolverHost: '127.0.0.1',
        webhook: {
          ...config.webhook!,
          host: '127.0.0.1',
          servingCert: {
            ...config.webhook!.servingCert!,
            checkIntervalMs: 2000,
            caTrustDelayMs: 1000,
          },
        },
      },
      {
        level: 'debug',
        capture: logs,
        kubeConfig: cluster.kubeConfig,
        // The Lease is held elsewhere: the webhook parts must work on standbys.
        manager: { leaderElection: { name: 'cert-operator', namespace: ns } },
        start: false,
      },
    );
    const replica = { webhook: webhook!, servingCert: servingCert!, stop: running.stop };
    replicas.push(replica);
    await waitFor(() => webhook!.port, { timeoutMs: 10_000, description: 'webhook listening' });
    return replica;
  }

  const secret = () => client.get(Secrets, { namespace: ns, name: SECRET });
  const configuration = () => client.get(ValidatingWebhookConfigurations, { name: configName });
  const invalid = (name: string): Certificate => ({
    metadata: { name, namespace: ns, labels },
    spec: {
      secretName: `${name}-tls`,
      issuerRef: { name: 'none' },
      dnsNames: [`${name}.example.com`],
      duration: '30m',
    },
  });
  /** What the API server answers to an invalid Certificate (dry run): the webhook's refusal. */
  const verdict = () =>
    client.create(Certificates, invalid('probe'), { dryRun: 'All' }).then(
      () => 'accepted',
      (err: unknown) => (err instanceof ApiError ? err.message : String(err)),
    );
  const refusedByWebhook = () =>
    waitFor(async () => (await verdict()).includes('denied the request'), {
      timeoutMs: 15_000,
      description: 'the webhook refusing an invalid Certificate',
    });

  beforeAll(async () => {
    cluster = await sharedCluster();
    await cluster.apply(CRDS);
    client = new Client(cluster.kubeConfig);
    ns = await cluster.createNamespace('serving-cert');
    await client.patch(
      Namespaces,
      { name: ns },
      { type: 'merge', patch: { metadata: { labels } } },
    );
    await client.create(Leases, {
      metadata: { name: 'cert-operator', namespace: ns },
      spec: {
        holderIdentity: 'another-replica',
        leaseDurationSeconds: 3600,
        renewTime: new Date().toISOString().replace('Z', '000Z'),
      },
    });
    // The API server runs on this host: the Service resolves to it by name, and the API
    // server still expects the certificate of SERVICE.NS.svc.
    port = await freePort();
    await client.create(Services, {
      metadata: { name: SERVICE, namespace: ns },
      spec: { type: 'ExternalName', externalName: '127.0.0.1' },
    });
    await client.create(
      ValidatingWebhookConfigurations,
      webhookConfiguration({
        name: configName,
        caBundlePem: '',
        service: { namespace: ns, name: SERVICE, port },
        namespaceSelector: { matchLabels: labels },
        objectSelector: { matchLabels: labels },
      }) as ValidatingWebhookConfiguration,
    );
    registered = true;
    await startReplica(port);
  });

  afterAll(async () => {
    // The configuration first: with failurePolicy Fail it must not outlive its servers.
    if (registered) {
      await client.delete(ValidatingWebhookConfigurations, { name: configName });
    }
    await Promise.all(replicas.map((r) => r.stop()));
  });

  it('writes the Secret, serves from it and injects the CA as caBundle', async () => {
    const stored = await secret();
    expect(stored.type).toBe('kubernetes.io/tls');
    expect(Object.keys(stored.data ?? {}).sort()).toEqual([
      'ca.crt',
      'ca.key',
      'tls.crt',
      'tls.key',
    ]);
    const leaf = inspectCertificate(secretText(stored, 'tls.crt'));
    expect(leaf.dnsNames).toEqual(serviceDnsNames(SERVICE, ns));
    // A 10-year CA and a 1-year leaf, as the operator's own pki reads them.
    const ca = inspectCertificate(secretText(stored, 'ca.crt'));
    expect(ca).toMatchObject({ isCA: true, keyAlgorithm: { algorithm: 'ECDSA', size: 256 } });
    expect(leaf).toMatchObject({ isCA: false, usages: ['digital signature', 'server auth'] });
    expect((ca.notAfter.getTime() - Date.now()) / DAY).toBeCloseTo(3650, 0);
    expect((leaf.notAfter.getTime() - Date.now()) / DAY).toBeCloseTo(365, 0);
    expect(stored.metadata?.labels).toEqual({
      'app.kubernetes.io/managed-by': 'chousei-cert-operator',
    });
    expect(verifyChain(secretText(stored, 'tls.crt'), secretText(stored, 'ca.crt')).valid).toBe(
      true,
    );
    const [replica] = replicas;
    expect(await readFile(join(replica!.servingCert.certDir, 'tls.crt'), 'utf8')).toBe(
      secretText(stored, 'tls.crt'),
    );
    await waitFor(
      async () =>
        caBundles(await configuration()).every((ca) => ca === secretText(stored, 'ca.crt')),
      { description: 'caBundle injected' },
    );
    expect(caBundles(await configuration())).toHaveLength(3);
  });

  it('is trusted by the API server: an invalid Certificate gets the webhook refusal', async () => {
    await refusedByWebhook();
    const err = await client.create(Certificates, invalid('short')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ForbiddenError);
    expect((err as ForbiddenError).message).toContain(
      'admission webhook "certificates.cert.chousei.dev" denied the request: Certificate short is invalid: spec.duration: 30m is shorter than the minimum certificate duration, 1h',
    );
  });

  it('is reused by a second replica: same pair served, the Secret not rewritten', async () => {
    const before = await secret();
    const second = await startReplica(await freePort());
    const ca = secretText(before, 'ca.crt');
    const [first] = replicas;
    for (const r of [first!, second]) {
      expect(await servedCertificate(r.webhook.port, `${SERVICE}.${ns}.svc`, ca)).toBe(
        fingerprint(secretText(before, 'tls.crt')),
      );
    }
    expect((await secret()).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
  });

  it('makes a new pair when the Secret is deleted, and every replica and the caBundle follow', async () => {
    const old = await secret();
    await client.delete(Secrets, { namespace: ns, name: SECRET });
    const renewed = await waitFor(
      async () => {
        const s = await secret();
        return secretText(s, 'ca.crt') !== secretText(old, 'ca.crt') && s;
      },
      { description: 'a new CA in the Secret' },
    );
    const ca = secretText(renewed, 'ca.crt');
    await waitFor(async () => caBundles(await configuration()).every((b) => b === ca), {
      description: 'the new CA injected',
    });
    for (const r of replicas) {
      await waitFor(
        async () =>
          (await servedCertificate(r.webhook.port, `${SERVICE}.${ns}.svc`, ca).catch(() => '')) ===
          fingerprint(secretText(renewed, 'tls.crt')),
        { description: 'the new leaf served' },
      );
    }
    await refusedByWebhook();
  });

  it('renews an expired leaf with the same CA, leaving the caBundle alone', async () => {
    const current = await secret();
    const caCert = secretText(current, 'ca.crt');
    const { cert: expired, key } = leafFrom(
      { caCert, caKey: secretText(current, 'ca.key') },
      serviceDnsNames(SERVICE, ns),
      DAY,
      new Date(Date.now() - 2 * DAY),
    );
    const bundleVersion = (await configuration()).metadata?.resourceVersion;
    await client.update(Secrets, {
      ...current,
      data: {
        ...current.data,
        'tls.crt': Buffer.from(expired).toString('base64'),
        'tls.key': Buffer.from(key).toString('base64'),
      },
    });
    const renewed = await waitFor(
      async () => {
        const s = await secret();
        return (
          inspectCertificate(secretText(s, 'tls.crt')).notAfter.getTime() >
            Date.now() + 300 * DAY && s
        );
      },
      { description: 'a renewed leaf' },
    );
    expect(secretText(renewed, 'ca.crt')).toBe(caCert);
    expect((await configuration()).metadata?.resourceVersion).toBe(bundleVersion);
    await refusedByWebhook();
  });

  it('issue 16, the webhook certificate alert: exports when the certificate it serves expires', async () => {
    const notAfter = inspectCertificate(secretText(await secret(), 'tls.crt')).notAfter;
    const exported = async () =>
      sumMetric(
        parseMetrics(await metricsRegistry.metrics()),
        'chousei_webhook_certificate_expiration_timestamp_seconds',
      );
    await waitFor(async () => (await exported()) === notAfter.getTime() / 1000, {
      description: 'the served leaf expiry exported',
    });
  });

  it('puts the caBundle back when the configuration is re-applied without it', async () => {
    const ca = secretText(await secret(), 'ca.crt');
    await client.patch(
      ValidatingWebhookConfigurations,
      { name: configName },
      {
        type: 'json',
        patch: [{ op: 'replace', path: '/webhooks/0/clientConfig/caBundle', value: '' }],
      },
    );
    await waitFor(async () => caBundles(await configuration()).every((b) => b === ca), {
      description: 'caBundle injected again',
    });
  });

  it('replaces a CA that is due without a request the API server cannot verify', async () => {
    // A CA due in about 15 s (validity starts a minute early), and a leaf from it: served,
    // trusted and answering before it is due.
    const short = leafFrom(backdatedCA(0, 52_500), serviceDnsNames(SERVICE, ns));
    const due = inspectCertificate(short.caCert);
    const current = await secret();
    await client.update(Secrets, {
      ...current,
      data: Object.fromEntries(
        Object.entries({
          'ca.crt': short.caCert,
          'ca.key': short.caKey,
          'tls.crt': short.cert,
          'tls.key': short.key,
        }).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
      ),
    });
    await waitFor(async () => caBundles(await configuration()).every((b) => b === short.caCert), {
      description: 'the short-lived CA injected',
    });
    for (const r of replicas) {
      await waitFor(
        async () =>
          (await servedCertificate(r.webhook.port, `${SERVICE}.${ns}.svc`, short.caCert).catch(
            () => '',
          )) === fingerprint(short.cert),
        { description: 'the short-lived leaf served' },
      );
    }
    await refusedByWebhook();
    const renewalAt =
      due.notBefore.getTime() + ((due.notAfter.getTime() - due.notBefore.getTime()) * 2) / 3;
    expect(renewalAt - Date.now()).toBeGreaterThan(2000);

    // Ask the API server all through the replacement: the webhook must answer every time.
    const verdicts: string[] = [];
    let asking = true;
    const ask = (async () => {
      while (asking) {
        verdicts.push(await verdict());
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const replaced = await waitFor(
      async () => {
        const s = await secret();
        const leaf = secretText(s, 'tls.crt');
        return !verifyChain(leaf, short.caCert).valid && s;
      },
      { timeoutMs: 40_000, description: 'a leaf from the next CA' },
    );
    const bundle = secretText(replaced, 'ca.crt');
    for (const r of replicas) {
      await waitFor(
        async () =>
          (await servedCertificate(r.webhook.port, `${SERVICE}.${ns}.svc`, bundle).catch(
            () => '',
          )) === fingerprint(secretText(replaced, 'tls.crt')),
        { description: 'the next leaf served' },
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
    asking = false;
    await ask;

    // The next CA signs and comes first; the short-lived one stays trusted until it expires.
    const cas = bundle.match(/-----BEGIN CERTIFICATE-----/g) ?? [];
    expect(cas).toHaveLength(2);
    expect(bundle.endsWith(short.caCert)).toBe(true);
    expect(verifyChain(secretText(replaced, 'tls.crt'), bundle).valid).toBe(true);
    expect(caBundles(await configuration()).every((b) => b === bundle)).toBe(true);
    expect(verdicts.length).toBeGreaterThan(20);
    expect(verdicts.filter((v) => !v.includes('denied the request'))).toEqual([]);
  });

  it('never logged a private key, even at debug level', async () => {
    const stored = await secret();
    const all = logs.join('\n');
    expect(all).toContain('wrote a new webhook serving certificate');
    expect(all).not.toMatch(/PRIVATE KEY|LS0tLS1CRUdJTiBQUklWQVRFIEtFWS/);
    expect(all).not.toContain(stored.data?.['tls.key']);
  });
});

describe('the serving certificate under the RBAC of the chart', () => {
  const run = Math.random().toString(36).slice(2, 8);
  // The chart grants the caBundle patch on its own configuration only.
  const configName = 'cert-operator';
  const logs: string[] = [];
  let admin: Client;
  let ns: string;
  const stop = new AbortController();
  let running: Promise<void> | undefined;

  beforeAll(async () => {
    const cluster = await sharedCluster();
    admin = new Client(cluster.kubeConfig);
    // The release namespace, where the chart lets the operator keep its serving Secret.
    ns = operatorServiceAccount().namespace;
    // Selects nothing: only its caBundle matters here.
    await admin.create(
      ValidatingWebhookConfigurations,
      webhookConfiguration({
        name: configName,
        caBundlePem: '',
        service: { namespace: ns, name: SERVICE },
        objectSelector: { matchLabels: { [LABEL]: `none-${run}` } },
        namespaceSelector: { matchLabels: { [LABEL]: `none-${run}` } },
      }) as ValidatingWebhookConfiguration,
    );
    const servingCert = new ServingCert({
      client: new Client(await operatorKubeConfig()),
      namespace: ns,
      secretName: SECRET,
      serviceName: SERVICE,
      webhookConfigurations: [{ kind: 'ValidatingWebhookConfiguration', name: configName }],
      // Only the watches can notice a change within this test.
      checkIntervalMs: 3_600_000,
      logger: createLogger({
        level: 'debug',
        destination: { write: (line: string) => void logs.push(line) },
      }),
    });
    running = servingCert.run(stop.signal);
  });

  afterAll(async () => {
    stop.abort();
    await running;
    await admin.delete(ValidatingWebhookConfigurations, { name: configName }).catch(() => {});
    await admin.delete(Secrets, { namespace: ns, name: SECRET }).catch(() => {});
  });

  it('creates, watches, repairs and recreates the Secret and injects the caBundle', async () => {
    const caOf = async () =>
      secretText(await admin.get(Secrets, { namespace: ns, name: SECRET }), 'ca.crt');
    const injected = async (ca: string) => {
      const config = await admin.get(ValidatingWebhookConfigurations, { name: configName });
      return caBundles(config).every((b) => b === ca);
    };
    const first = await waitFor(caOf, { description: 'the Secret written' });
    await waitFor(() => injected(first), { description: 'caBundle injected' });
    // A Secret missing a part is rewritten in place (an update, not a new Secret).
    await admin.patch(
      Secrets,
      { namespace: ns, name: SECRET },
      { type: 'json', patch: [{ op: 'remove', path: '/data/ca.key' }] },
    );
    await waitFor(
      async () => !!(await admin.get(Secrets, { namespace: ns, name: SECRET })).data?.['ca.key'],
      { description: 'the Secret repaired' },
    );
    const repaired = await caOf();
    await waitFor(() => injected(repaired), { description: 'the repaired caBundle injected' });
    await admin.delete(Secrets, { namespace: ns, name: SECRET });
    const second = await waitFor(
      async () => {
        const ca = await caOf();
        return ca !== repaired && ca;
      },
      { description: 'the Secret written again' },
    );
    await waitFor(() => injected(second), { description: 'the new caBundle injected' });
    expect(logs.filter((l) => /forbidden/i.test(l))).toEqual([]);
  });
});
