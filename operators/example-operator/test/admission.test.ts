// The SecretMirror admission webhooks through a real kube-apiserver: the operator (under the
// chart's RBAC) makes its serving certificate, the API server trusts it through the caBundle
// the operator writes, calls the defaulting webhook and then the validating one.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  ApiError,
  Client,
  createLogger,
  Manager,
  MutatingWebhookConfigurations,
  Namespaces,
  Secrets,
  Services,
  ValidatingWebhookConfigurations,
} from '@chousei/runtime';
import { type RunningManager, startManager, waitFor } from '@chousei/runtime/testing';
import { freePort, renderChart } from '@chousei/testenv';
import { operatorKubeConfig, sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRDS, type SecretMirror, SecretMirrors } from '../src/api/secretmirror.js';
import { setupAdmission, webhookConfigurations } from '../src/webhook.js';

const run = randomBytes(3).toString('hex');
const labels = { 'example.chousei.dev/admission-test': run };
// The chart's names: its RBAC grants the webhook configurations by name.
const CONFIGURATION = 'example-operator';
const SERVICE = 'example-operator-webhook';
const chartDir = fileURLToPath(new URL('../deploy/chart', import.meta.url));

let admin: Client;
let ns: string;
let running: RunningManager | undefined;
let registered = false;

beforeAll(async () => {
  const cluster = await sharedCluster();
  await cluster.apply(CRDS);
  admin = new Client(cluster.kubeConfig);
  ns = await cluster.createNamespace('admission');
  // Only this namespace's SecretMirrors go through the webhooks: other files share the cluster.
  await admin.patch(Namespaces, { name: ns }, { type: 'merge', patch: { metadata: { labels } } });
  const port = await freePort();
  // The API server reaches the Service by its DNS name, which leads here; the certificate
  // must be for that name.
  await admin.create(Services, {
    metadata: { name: SERVICE, namespace: ns },
    spec: { type: 'ExternalName', externalName: '127.0.0.1' },
  });
  const [mutating, validating] = webhookConfigurations({
    name: CONFIGURATION,
    service: { namespace: ns, name: SERVICE, port },
    namespaceSelector: { matchLabels: labels },
  });
  await admin.create(MutatingWebhookConfigurations, mutating);
  await admin.create(ValidatingWebhookConfigurations, validating);
  registered = true;

  const logger = createLogger({ level: process.env.TEST_LOG ?? 'silent' });
  const manager = new Manager({
    kubeConfig: await operatorKubeConfig(),
    logger,
    healthProbePort: false,
    metricsPort: false,
  });
  setupAdmission(manager, {
    port,
    host: '127.0.0.1',
    namespace: ns,
    serviceName: SERVICE,
    secretName: `${SERVICE}-tls`,
    configurationName: CONFIGURATION,
    logger,
  });
  running = await startManager(manager);
});

afterAll(async () => {
  // failurePolicy Fail: the configurations go before the server does.
  if (registered) {
    await admin.delete(MutatingWebhookConfigurations, { name: CONFIGURATION });
    await admin.delete(ValidatingWebhookConfigurations, { name: CONFIGURATION });
  }
  await running?.stop();
});

/** Creates a SecretMirror (a dry run): the object as it would be stored, or the refusal. */
const create = (name: string, spec: unknown) =>
  admin
    .create(SecretMirrors, { metadata: { name, namespace: ns }, spec } as SecretMirror, {
      dryRun: 'All',
    })
    .then(
      (stored) => stored,
      (err: unknown) => {
        if (err instanceof ApiError) return err.message;
        throw err;
      },
    );

/** The first answer once the API server reaches the webhooks (trusting the injected CA). */
const whenServed = (name: string, spec: unknown) =>
  waitFor(
    async () => {
      const answer = await create(name, spec);
      return !(typeof answer === 'string' && /failed calling webhook/.test(answer)) && answer;
    },
    { timeoutMs: 20_000, description: 'the webhooks answering' },
  );

describe('issue 12: SecretMirror admission webhooks', () => {
  it('defaults spec.sourceRef.name to the name of the SecretMirror on create', async () => {
    const stored = await whenServed('registry-credentials', { namespaceSelector: {} });
    expect(typeof stored).not.toBe('string');
    expect((stored as SecretMirror).spec.sourceRef).toEqual({ name: 'registry-credentials' });
    // A name given is kept.
    const given = await create('other', { sourceRef: { name: 'db' }, namespaceSelector: {} });
    expect((given as SecretMirror).spec.sourceRef).toEqual({ name: 'db' });
  });

  it('refuses a selector no namespace can match, naming the field', async () => {
    const answer = await whenServed('bad', {
      sourceRef: { name: 'db' },
      namespaceSelector: {
        matchLabels: { team: 'web app' },
        matchExpressions: [{ key: 'tier/', operator: 'Exists' }],
      },
    });
    expect(answer).toContain('admission webhook "validate.secretmirrors.example.chousei.dev"');
    expect(answer).toContain(
      'spec.namespaceSelector.matchLabels: label value "web app": must be empty or at most 63 characters',
    );
    expect(answer).toContain('spec.namespaceSelector.matchExpressions[0].key: label key "tier/"');
  });

  it('keeps the serving pair in a Secret and its CA in both configurations', async () => {
    const secret = await admin.get(Secrets, { namespace: ns, name: `${SERVICE}-tls` });
    const ca = secret.data?.['ca.crt'];
    expect(ca).toBeTruthy();
    for (const rt of [MutatingWebhookConfigurations, ValidatingWebhookConfigurations]) {
      const config = await admin.get(rt, { name: CONFIGURATION });
      expect(config.webhooks?.map((w) => w.clientConfig.caBundle)).toEqual([ca]);
    }
  });

  it('are what the chart installs', async () => {
    const rendered = await renderChart(chartDir, { release: 'example-operator', namespace: 'ops' });
    const expected = webhookConfigurations({
      name: CONFIGURATION,
      service: { namespace: 'ops', name: SERVICE },
    });
    for (const want of expected) {
      const got = rendered.find((o) => o.kind === want.kind) as typeof want | undefined;
      expect(got?.webhooks).toEqual(want.webhooks);
    }
  });
});
