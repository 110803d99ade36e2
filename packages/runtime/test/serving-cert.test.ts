import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/client/client.js';
import {
  MutatingWebhookConfigurations,
  Secrets,
  ValidatingWebhookConfigurations,
} from '../src/client/resource.js';
import { silentLogger } from '../src/log/logger.js';
import { waitFor } from '../src/testing/index.js';
import { caProblem, issueCertificate, leafProblem } from '../src/webhook/pki.js';
import { ServingCert } from '../src/webhook/serving-cert.js';

const DAY = 86_400_000;
const at = (days: number) => new Date(Date.now() + days * DAY);

describe('webhook serving pki', () => {
  it('issues a CA and a leaf for DNS names that verifies against it, due at two thirds of its life', () => {
    const ca = issueCertificate({ commonName: 'test CA', notBefore: at(0), notAfter: at(30) });
    const leaf = issueCertificate({
      dnsNames: ['hooks.ops.svc'],
      notBefore: at(0),
      notAfter: at(3),
      issuer: ca,
    });
    const cert = new X509Certificate(leaf.cert);
    expect(cert.checkIssued(new X509Certificate(ca.cert))).toBe(true);
    expect(cert.subjectAltName).toBe('DNS:hooks.ops.svc');
    expect(new X509Certificate(ca.cert).ca).toBe(true);
    expect(caProblem(ca, at(0))).toBeUndefined();
    expect(leafProblem(leaf, ca, ['hooks.ops.svc'], at(0))).toBeUndefined();
    expect(leafProblem(leaf, ca, ['other.ops.svc'], at(0))).toBe(
      'tls.crt is not for other.ops.svc',
    );
    expect(leafProblem(leaf, ca, ['hooks.ops.svc'], at(2.1))).toMatch(
      /^tls.crt is due for renewal/,
    );
    const stranger = issueCertificate({
      commonName: 'test CA',
      notBefore: at(0),
      notAfter: at(30),
    });
    expect(leafProblem(leaf, stranger, [], at(0))).toBe('tls.crt was not signed by ca.crt');
    expect(caProblem(leaf, at(0))).toBe('ca.crt is not a CA');
    expect(caProblem({ cert: ca.cert, key: leaf.key }, at(0))).toBe(
      'ca.key does not belong to ca.crt',
    );
  });
});

describe('issue 12: ServingCert, behind a real kube-apiserver', () => {
  const name = `serving-${Math.random().toString(36).slice(2, 8)}`;
  let client: Client;
  let ns: string;
  const stops: AbortController[] = [];

  beforeAll(async () => {
    const cluster = await sharedCluster();
    client = new Client(cluster.kubeConfig);
    ns = await cluster.createNamespace('serving');
    const webhook = {
      name: 'hook.example.com',
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      clientConfig: { url: 'https://127.0.0.1:1/never-called' },
      // Matches nothing: the configurations are only carriers of a caBundle here.
      rules: [
        {
          apiGroups: ['example.com'],
          apiVersions: ['v1'],
          operations: ['CREATE'],
          resources: ['nothing'],
        },
      ],
    };
    await client.create(MutatingWebhookConfigurations, { metadata: { name }, webhooks: [webhook] });
    await client.create(ValidatingWebhookConfigurations, {
      metadata: { name },
      webhooks: [webhook],
    });
  });
  afterAll(async () => {
    for (const s of stops) s.abort();
    await client.delete(MutatingWebhookConfigurations, { name });
    await client.delete(ValidatingWebhookConfigurations, { name });
  });

  const replica = () => {
    const cert = new ServingCert({
      client,
      namespace: ns,
      secretName: 'hooks-tls',
      serviceName: 'hooks',
      webhookConfigurations: [
        { kind: 'MutatingWebhookConfiguration', name },
        { kind: 'ValidatingWebhookConfiguration', name },
      ],
      logger: silentLogger,
    });
    const stop = new AbortController();
    stops.push(stop);
    void cert.run(stop.signal);
    return { cert, ready: cert.whenReady(stop.signal) };
  };
  const secret = () => client.get(Secrets, { namespace: ns, name: 'hooks-tls' });
  const caBundles = async () =>
    [
      ...((await client.get(MutatingWebhookConfigurations, { name })).webhooks ?? []),
      ...((await client.get(ValidatingWebhookConfigurations, { name })).webhooks ?? []),
    ].map((w) => w.clientConfig.caBundle);

  it('keeps one pair for every replica: the Secret, the files, the caBundle of both kinds', async () => {
    const first = replica();
    await first.ready;
    const stored = await secret();
    const ca = stored.data?.['ca.crt'];
    await waitFor(async () => (await caBundles()).every((b) => b === ca));
    const tlsCrt = Buffer.from(stored.data?.['tls.crt'] ?? '', 'base64').toString();
    expect(await readFile(join(first.cert.certDir, 'tls.crt'), 'utf8')).toBe(tlsCrt);
    expect(new X509Certificate(tlsCrt).subjectAltName).toBe(
      `DNS:hooks.${ns}.svc, DNS:hooks.${ns}.svc.cluster.local`,
    );

    // A second replica serves the same pair and writes nothing.
    const second = replica();
    await second.ready;
    expect(await readFile(join(second.cert.certDir, 'tls.crt'), 'utf8')).toBe(tlsCrt);
    expect((await secret()).metadata?.resourceVersion).toBe(stored.metadata?.resourceVersion);
  });

  it('makes a new pair when the Secret is deleted, and the files and caBundles follow', async () => {
    const before = await secret();
    await client.delete(Secrets, { namespace: ns, name: 'hooks-tls' });
    const after = await waitFor(async () => {
      const s = await secret().catch(() => undefined);
      return s && s.metadata?.uid !== before.metadata?.uid && s;
    });
    const ca = after.data?.['ca.crt'];
    expect(ca).not.toBe(before.data?.['ca.crt']);
    await waitFor(async () => (await caBundles()).every((b) => b === ca));
  });
});
