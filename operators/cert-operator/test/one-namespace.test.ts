import { fileURLToPath } from 'node:url';
import {
  ApiError,
  Client,
  Ingresses,
  isNotFound,
  Secrets,
  Services,
  silentLogger,
  ValidatingWebhookConfigurations,
} from '@chousei/runtime';
import { type RunningManager, waitFor, waitForCondition } from '@chousei/runtime/testing';
import {
  auditedRequests,
  type ControlPlane,
  describePermission,
  freePort,
  rbacObjects,
  renderChart,
  startControlPlane,
} from '@chousei/testenv';
import type {
  KubernetesObject,
  V1Deployment,
  V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRDS } from '../src/api/crds.js';
import {
  type Certificate,
  Certificates,
  ClusterIssuers,
  GROUP,
  Issuers,
} from '../src/api/types.js';
import { type CertOperatorConfig, ConfigError, parseConfig } from '../src/config.js';
import { certificateAdmission } from '../src/webhook/index.js';
import { startCertOperator } from './operator.js';

const chartDir = fileURLToPath(new URL('../deploy/chart', import.meta.url));

describe('--namespace', () => {
  const parse = (...argv: string[]) => parseConfig(argv, {});

  it('serves one namespace, which is also the cluster resource namespace', () => {
    const config = parse('--namespace', 'apps', '--http01-solver-service', 'solver:8089');
    expect(config.namespace).toBe('apps');
    expect(config.clusterResourceNamespace).toBe('apps');
    expect(config.http01SolverService?.namespace).toBe('apps');
    // Not the pod's namespace: the operator keeps its objects in the one it serves.
    expect(
      parseConfig(['--namespace=apps'], { POD_NAMESPACE: 'ops' }).clusterResourceNamespace,
    ).toBe('apps');
    expect(parseConfig([], { CHOUSEI_CERT_NAMESPACE: 'apps' }).namespace).toBe('apps');
    expect(parse('--cluster-resource-namespace', 'apps', '--namespace', 'apps').namespace).toBe(
      'apps',
    );
    // Empty, as the chart's watchNamespace default: every namespace.
    expect(parse('--namespace=').namespace).toBeUndefined();
    expect(parse().namespace).toBeUndefined();
  });

  it('refuses another cluster resource namespace, naming both flags', () => {
    expect(() => parse('--namespace', 'apps', '--cluster-resource-namespace', 'ops')).toThrow(
      new ConfigError(
        '--cluster-resource-namespace (CHOUSEI_CERT_CLUSTER_RESOURCE_NAMESPACE) must be the namespace of --namespace (CHOUSEI_CERT_NAMESPACE) ("apps") or unset; got "ops"',
      ),
    );
    expect(() => parse('--namespace', 'Apps')).toThrow(
      /--namespace \(CHOUSEI_CERT_NAMESPACE\) must be a namespace name; got "Apps"/,
    );
  });

  it('takes the default issuer as an Issuer, and refuses a ClusterIssuer', () => {
    expect(parse('--namespace', 'apps', '--default-issuer-name', 'le').defaultIssuer).toEqual({
      name: 'le',
      kind: 'Issuer',
    });
    // Without --namespace a ClusterIssuer may be the default (asked for: Issuer is the default).
    expect(
      parse('--default-issuer-name', 'le', '--default-issuer-kind', 'ClusterIssuer').defaultIssuer
        ?.kind,
    ).toBe('ClusterIssuer');
    expect(() =>
      parse(
        '--namespace',
        'apps',
        '--default-issuer-name',
        'le',
        '--default-issuer-kind',
        'ClusterIssuer',
      ),
    ).toThrow(
      /--default-issuer-kind \(CHOUSEI_CERT_DEFAULT_ISSUER_KIND\) must be Issuer with --namespace \(CHOUSEI_CERT_NAMESPACE\)/,
    );
  });

  it('warns a Certificate of its namespace that names a ClusterIssuer; elsewhere it is not its business', async () => {
    const admit = certificateAdmission(silentLogger, 'apps');
    const request = (namespace: string, kind: string) => ({
      uid: 'u1',
      kind: { group: GROUP, version: 'v1alpha1', kind: 'Certificate' },
      resource: { group: GROUP, version: 'v1alpha1', resource: 'certificates' },
      name: 'web',
      namespace,
      operation: 'CREATE' as const,
      userInfo: { username: 'tester' },
      object: {
        metadata: { name: 'web', namespace },
        spec: { secretName: 'web-tls', issuerRef: { name: 'le', kind }, dnsNames: ['a.test'] },
      },
    });
    expect(await admit(request('apps', 'ClusterIssuer'))).toEqual({
      allowed: true,
      warnings: [
        'spec.issuerRef.kind: ClusterIssuers are not served with --namespace: this Certificate will not be issued; use an Issuer in apps',
      ],
    });
    expect(await admit(request('apps', 'Issuer'))).toEqual({ allowed: true });
    expect(await admit(request('other', 'ClusterIssuer'))).toEqual({ allowed: true });
    expect(await certificateAdmission(silentLogger)(request('apps', 'ClusterIssuer'))).toEqual({
      allowed: true,
    });
  });
});

/**
 * The operator as the chart runs it with `watchNamespace`: its flags, and exactly the Role,
 * leader Role and webhook ClusterRole the chart grants. A control plane of its own: the other
 * files' operators serve every namespace and would issue what this one must leave alone.
 */
describe('cert-operator serving one namespace, under the chart RBAC of watchNamespace', () => {
  const NS = 'apps';
  const OTHER = 'elsewhere';
  const RELEASE = 'cert-operator';
  const user = `system:serviceaccount:${NS}:${RELEASE}`;
  let cp: ControlPlane;
  let client: Client;
  let config: CertOperatorConfig;
  let running: RunningManager | undefined;

  const certificate = (namespace: string, name: string, spec: Partial<Certificate['spec']> = {}) =>
    ({
      metadata: { name, namespace },
      spec: {
        secretName: `${name}-tls`,
        issuerRef: { name: 'self' },
        dnsNames: [`${name}.example.test`],
        ...spec,
      },
    }) satisfies Certificate;
  const missing = (p: Promise<unknown>) =>
    p.then(
      () => false,
      (err: unknown) => isNotFound(err),
    );
  /** What the API server answers to an invalid Certificate (dry run). */
  const verdict = (namespace: string) =>
    client
      .create(Certificates, certificate(namespace, 'probe', { duration: '30m' }), { dryRun: 'All' })
      .then(
        () => 'accepted',
        (err: unknown) => (err instanceof ApiError ? err.message : String(err)),
      );

  beforeAll(async () => {
    cp = await startControlPlane({ auditLog: true });
    client = new Client(cp.kubeConfig);
    await cp.apply(CRDS);
    await cp.ensureNamespace(NS);
    await cp.ensureNamespace(OTHER);
    const objects = await renderChart(chartDir, {
      release: RELEASE,
      namespace: NS,
      set: { watchNamespace: NS, defaultIssuer: { name: 'self', kind: 'Issuer' } },
    });
    await cp.apply(rbacObjects(objects));

    // The chart's webhook configuration, its Service reaching this process (the API server
    // still expects the certificate of the Service's name).
    const port = await freePort();
    await client.create(Services, {
      metadata: { name: `${RELEASE}-webhook`, namespace: NS },
      spec: { type: 'ExternalName', externalName: '127.0.0.1' },
    });
    const configuration = objects.find(
      (o): o is KubernetesObject & V1ValidatingWebhookConfiguration =>
        o.kind === 'ValidatingWebhookConfiguration',
    );
    for (const hook of configuration?.webhooks ?? []) hook.clientConfig.service!.port = port;
    await cp.apply(configuration ? [configuration] : []);

    const deployment = objects.find((o) => o.kind === 'Deployment') as V1Deployment;
    const args = (deployment.spec?.template.spec?.containers[0]?.args ?? []).map((a) =>
      a.startsWith('--webhook-port=') ? `--webhook-port=${port}` : a,
    );
    config = parseConfig(args, { POD_NAMESPACE: NS });
    ({ running } = await startCertOperator(
      {
        ...(config.namespace ? { namespace: config.namespace } : {}),
        clusterResourceNamespace: config.clusterResourceNamespace,
        ...(config.defaultIssuer ? { defaultIssuer: config.defaultIssuer } : {}),
        http01SolverPort: 0,
        http01SolverHost: '127.0.0.1',
        ...(config.http01SolverService ? { http01SolverService: config.http01SolverService } : {}),
        ...(config.webhook ? { webhook: { ...config.webhook, host: '127.0.0.1' } } : {}),
        backoff: { initialMs: 1000, maxMs: 4000 },
      },
      {
        // This file's own control plane, with the chart's RBAC.
        kubeConfig: await cp.serviceAccountKubeConfig(NS, RELEASE),
        manager: {
          leaderElection: {
            name: config.leaderElectionId,
            namespace: config.leaderElectionNamespace,
          },
        },
        // Synced only if every informer is one the Role allows.
        start: { timeoutMs: 30_000 },
      },
    ));
    // Until the operator has written its CA into the configuration, writes there are refused.
    await waitFor(async () => (await verdict(NS)).includes('denied the request'), {
      timeoutMs: 30_000,
      description: 'the webhook refusing an invalid Certificate',
    });
  });

  afterAll(async () => {
    await running?.stop();
    await cp?.stop();
  });

  it('runs with the chart flags: --namespace, the cluster resource namespace the same', () => {
    expect(config).toMatchObject({
      namespace: NS,
      clusterResourceNamespace: NS,
      http01SolverService: { namespace: NS },
      webhook: { servingCert: { webhookConfigurationName: RELEASE } },
    });
  });

  it('validates the Certificates of its namespace only, with the CA it wrote into the chart configuration', async () => {
    expect(await verdict(OTHER)).toBe('accepted');
    const configuration = await client.get(ValidatingWebhookConfigurations, { name: RELEASE });
    expect(configuration.webhooks?.map((w) => w.name)).toEqual([
      'certificates.cert.chousei.dev',
      'issuers.cert.chousei.dev',
    ]);
    expect(configuration.webhooks?.every((w) => w.clientConfig.caBundle)).toBe(true);
  });

  it('issues a Certificate in its namespace and leaves one in another namespace alone', async () => {
    // The other namespace's first: by the time this one is Ready, that one was seen, if ever.
    await client.create(Issuers, {
      metadata: { name: 'self', namespace: OTHER },
      spec: { selfSigned: {} },
    });
    await client.create(Certificates, certificate(OTHER, 'web'));
    await client.create(Issuers, {
      metadata: { name: 'self', namespace: NS },
      spec: { selfSigned: {} },
    });
    await client.create(Certificates, certificate(NS, 'web'));

    await waitForCondition(client, Certificates, { namespace: NS, name: 'web' }, 'Ready', {
      timeoutMs: 20_000,
    });
    const secret = await client.get(Secrets, { namespace: NS, name: 'web-tls' });
    expect(secret.data?.['tls.crt']).toBeTruthy();

    expect(await missing(client.get(Secrets, { namespace: OTHER, name: 'web-tls' }))).toBe(true);
    const ignored = await client.get(Certificates, { namespace: OTHER, name: 'web' });
    expect(ignored.status).toBeUndefined();
    expect(ignored.metadata?.finalizers).toBeUndefined();
    expect((await client.get(Issuers, { namespace: OTHER, name: 'self' })).status).toBeUndefined();
  });

  it('tells a Certificate that names a ClusterIssuer that ClusterIssuers are not served', async () => {
    await client.create(ClusterIssuers, {
      metadata: { name: 'cluster-self' },
      spec: { selfSigned: {} },
    });
    await client.create(
      Certificates,
      certificate(NS, 'via-cluster', {
        issuerRef: { name: 'cluster-self', kind: 'ClusterIssuer' },
      }),
    );
    const cert = await waitForCondition(
      client,
      Certificates,
      { namespace: NS, name: 'via-cluster' },
      'Ready',
      { status: 'False', timeoutMs: 20_000 },
    );
    expect(cert.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      reason: 'IssuerNotFound',
      message: `ClusterIssuer cluster-self not used: ClusterIssuers are not served with --namespace; use an Issuer in ${NS}`,
    });
    expect(await missing(client.get(Secrets, { namespace: NS, name: 'via-cluster-tls' }))).toBe(
      true,
    );
    // Not watched at all: its Ready condition is nobody's.
    expect((await client.get(ClusterIssuers, { name: 'cluster-self' })).status).toBeUndefined();
  });

  it('makes Certificates for the Ingresses of its namespace only', async () => {
    for (const namespace of [OTHER, NS]) {
      await client.create(Ingresses, {
        metadata: { name: 'shop', namespace, annotations: { 'kubernetes.io/tls-acme': 'true' } },
        spec: {
          tls: [{ hosts: ['shop.example.test'], secretName: 'shop-tls' }],
          rules: [
            {
              host: 'shop.example.test',
              http: {
                paths: [
                  {
                    path: '/',
                    pathType: 'Prefix',
                    backend: { service: { name: 'shop', port: { number: 80 } } },
                  },
                ],
              },
            },
          ],
        },
      });
    }
    // The chart's defaultIssuer, an Issuer of this namespace.
    const cert = await waitForCondition(
      client,
      Certificates,
      { namespace: NS, name: 'shop-tls' },
      'Ready',
      {
        timeoutMs: 20_000,
      },
    );
    expect(cert.spec.issuerRef).toEqual({ name: 'self', kind: 'Issuer' });
    expect(await missing(client.get(Certificates, { namespace: OTHER, name: 'shop-tls' }))).toBe(
      true,
    );
  });

  it('was refused nothing, and read and wrote nothing outside its namespace but the webhook configuration', async () => {
    const requests = await auditedRequests(cp.auditLogPath!, user);
    expect(requests.length).toBeGreaterThan(0);
    expect([...new Set(requests.filter((r) => !r.allowed).map(describePermission))]).toEqual([]);
    const outside = requests.filter(
      (r) => r.namespace !== NS && r.resource !== 'validatingwebhookconfigurations',
    );
    expect([...new Set(outside.map(describePermission))]).toEqual([]);
  });
});
