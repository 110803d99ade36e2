import { X509Certificate } from 'node:crypto';
import {
  Client,
  Events,
  Ingresses,
  metricsRegistry,
  Secrets,
  setCondition,
} from '@chousei/runtime';
import {
  type RunningManager,
  waitFor,
  waitForCondition,
  waitForEvent,
} from '@chousei/runtime/testing';
import { parseMetrics } from '@chousei/testenv';
import { operatorServiceAccount, sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRDS } from '../src/api/crds.js';
import {
  type Certificate,
  Certificates,
  ClusterIssuers,
  Issuers,
  LABEL_MANAGED,
} from '../src/api/types.js';
import { MANUAL_TRIGGER_REASON } from '../src/controllers/policy.js';
import {
  createCsr,
  generatePrivateKey,
  inspectCertificate,
  signCertificate,
  splitPem,
} from '../src/pki/index.js';
import { startCertOperator } from './operator.js';
import { secretText } from './secret-text.js';

describe('cert-operator with SelfSigned and CA issuers', () => {
  let client: Client;
  let ns: string;
  let running: RunningManager;

  beforeAll(async () => {
    const cluster = await sharedCluster();
    await cluster.apply(CRDS);
    ns = await cluster.createNamespace('certs');
    client = new Client(cluster.kubeConfig);
    ({ running } = await startCertOperator(
      {
        clusterResourceNamespace: ns,
        http01SolverPort: 0,
        http01SolverHost: '127.0.0.1',
        backoff: { initialMs: 1000, maxMs: 4000 },
      },
      {
        manager: {
          // As installed: the Lease in the release namespace.
          leaderElection: {
            name: `cert-operator-${ns}`,
            namespace: operatorServiceAccount().namespace,
          },
        },
      },
    ));
    await client.create(Issuers, {
      metadata: { name: 'self', namespace: ns },
      spec: { selfSigned: {} },
    });
  });
  afterAll(() => running?.stop());

  const patchSpec = (name: string, spec: Partial<Certificate['spec']>) =>
    client.patch(Certificates, { namespace: ns, name }, { type: 'merge', patch: { spec } });
  const secret = (name: string) =>
    client.get(Secrets, { namespace: ns, name }).catch(() => undefined);
  const issued = (name: string, check: (pem: string) => boolean = () => true) =>
    waitFor(
      async () => {
        const s = await secret(name);
        const pem = secretText(s, 'tls.crt');
        return pem && check(pem) && s;
      },
      { timeoutMs: 20_000 },
    );

  it('issues a self-signed certificate into a TLS Secret, with the names, key type and labels asked for', async () => {
    await client.create(Certificates, {
      metadata: { name: 'web', namespace: ns },
      spec: {
        secretName: 'web-tls',
        issuerRef: { name: 'self' },
        dnsNames: ['web.example.test', 'www.example.test'],
        ipAddresses: ['192.0.2.7'],
        secretTemplate: { labels: { team: 'web' } },
      },
    });
    const s = await issued('web-tls');
    expect(s.type).toBe('kubernetes.io/tls');
    expect(s.metadata?.labels).toMatchObject({ [LABEL_MANAGED]: 'true', team: 'web' });
    expect(s.metadata?.annotations?.['cert.chousei.dev/certificate-name']).toBe('web');
    expect(secretText(s, 'tls.key')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const info = inspectCertificate(secretText(s, 'tls.crt'));
    expect(info.dnsNames.sort()).toEqual(['web.example.test', 'www.example.test']);
    expect(info.ipAddresses).toEqual(['192.0.2.7']);
    expect(info.keyAlgorithm).toEqual({ algorithm: 'ECDSA', size: 256 });
    const cert = await waitForCondition(
      client,
      Certificates,
      { namespace: ns, name: 'web' },
      'Ready',
    );
    expect(cert.status?.notAfter).toBe(info.notAfter.toISOString().replace('.000Z', 'Z'));
    expect(cert.status?.revision).toBe(1);
  });

  it('carries a secretTemplate edit over to the Secret without issuing again', async () => {
    const before = await issued('web-tls');
    await patchSpec('web', {
      secretTemplate: { labels: { team: 'edge' }, annotations: { 'example.com/owner': 'a' } },
    });
    const after = await waitFor(
      async () => {
        const s = await secret('web-tls');
        return s?.metadata?.labels?.team === 'edge' && s;
      },
      { timeoutMs: 10_000, description: 'the Secret relabelled' },
    );
    expect(after.metadata?.annotations?.['example.com/owner']).toBe('a');
    expect(after.metadata?.labels?.[LABEL_MANAGED]).toBe('true');
    expect(secretText(after, 'tls.crt')).toBe(secretText(before, 'tls.crt'));
    expect(secretText(after, 'tls.key')).toBe(secretText(before, 'tls.key'));
    const cert = await client.get(Certificates, { namespace: ns, name: 'web' });
    expect(cert.status?.revision).toBe(1);
  });

  it('keeps the key across issuances under rotationPolicy Never, and makes a new one under Always', async () => {
    await client.create(Certificates, {
      metadata: { name: 'kept', namespace: ns },
      spec: {
        secretName: 'kept-tls',
        issuerRef: { name: 'self' },
        dnsNames: ['kept.example.test'],
        privateKey: { rotationPolicy: 'Never' },
      },
    });
    const first = secretText(await issued('kept-tls'), 'tls.key');
    const reissue = async (dnsName: string) => {
      await patchSpec('kept', { dnsNames: [dnsName] });
      const s = await issued('kept-tls', (pem) => inspectCertificate(pem).dnsNames[0] === dnsName);
      return secretText(s, 'tls.key');
    };
    expect(await reissue('kept2.example.test')).toBe(first);
    await patchSpec('kept', { privateKey: { rotationPolicy: 'Always' } });
    expect(await reissue('kept3.example.test')).not.toBe(first);
  });

  it('issues from a ClusterIssuer, reported Ready once usable', async () => {
    const issuer = `self-${ns}`;
    await client.create(ClusterIssuers, { metadata: { name: issuer }, spec: { selfSigned: {} } });
    try {
      await waitForCondition(client, ClusterIssuers, { name: issuer }, 'Ready');
      await client.create(Certificates, {
        metadata: { name: 'cluster', namespace: ns },
        spec: {
          secretName: 'cluster-tls',
          issuerRef: { name: issuer, kind: 'ClusterIssuer' },
          dnsNames: ['cluster.example.test'],
        },
      });
      const s = await issued('cluster-tls');
      expect(inspectCertificate(secretText(s, 'tls.crt')).dnsNames).toEqual([
        'cluster.example.test',
      ]);
    } finally {
      await client.delete(ClusterIssuers, { name: issuer });
    }
  });

  it('re-issues when the Secret is deleted or edited, or the spec asks for other names or key', async () => {
    await client.delete(Secrets, { namespace: ns, name: 'web-tls' });
    await issued('web-tls');
    const before = secretText(await secret('web-tls'), 'tls.crt');
    await client.patch(
      Secrets,
      { namespace: ns, name: 'web-tls' },
      { type: 'merge', patch: { data: { 'tls.crt': Buffer.from('garbage').toString('base64') } } },
    );
    await issued(
      'web-tls',
      (pem) => pem.startsWith('-----BEGIN CERTIFICATE-----') && pem !== before,
    );
    await patchSpec('web', {
      dnsNames: ['new.example.test'],
      ipAddresses: [],
      privateKey: { algorithm: 'RSA', size: 2048 },
    });
    const s = await issued(
      'web-tls',
      (pem) => inspectCertificate(pem).dnsNames.join() === 'new.example.test',
    );
    expect(inspectCertificate(secretText(s, 'tls.crt')).keyAlgorithm).toEqual({
      algorithm: 'RSA',
      size: 2048,
    });
  });

  it('issues from a CA Secret, with the chain in tls.crt and the CA in ca.crt', async () => {
    const caKey = generatePrivateKey({ algorithm: 'ECDSA', size: 256 });
    const caCert = signCertificate({
      csrPem: createCsr({
        privateKeyPem: caKey,
        commonName: 'Test CA',
        dnsNames: [],
        ipAddresses: [],
        isCA: true,
      }),
      issuerKeyPem: caKey,
      durationMs: 86_400_000,
      usages: ['cert sign', 'crl sign'],
      isCA: true,
      selfSigned: true,
    });
    await client.create(Secrets, {
      metadata: { name: 'test-ca', namespace: ns },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': caCert, 'tls.key': caKey },
    });
    await client.create(Issuers, {
      metadata: { name: 'ca', namespace: ns },
      spec: { ca: { secretName: 'test-ca' } },
    });
    await waitForCondition(client, Issuers, { namespace: ns, name: 'ca' }, 'Ready');
    await client.create(Certificates, {
      metadata: { name: 'api', namespace: ns },
      spec: {
        secretName: 'api-tls',
        issuerRef: { name: 'ca' },
        dnsNames: ['api.example.test'],
        duration: '1h',
      },
    });
    const s = await issued('api-tls');
    const leaf = new X509Certificate(secretText(s, 'tls.crt'));
    const ca = new X509Certificate(caCert);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(secretText(s, 'ca.crt').trim()).toBe(caCert.trim());
    expect(splitPem(secretText(s, 'tls.crt'))).toHaveLength(2);
    // The cache holds the leaf alone: mending the labels writes the chain and ca.crt back whole.
    await patchSpec('api', { secretTemplate: { labels: { team: 'api' } } });
    const relabelled = await waitFor(
      async () => {
        const r = await secret('api-tls');
        return r?.metadata?.labels?.team === 'api' && r;
      },
      { timeoutMs: 10_000, description: 'the Secret relabelled' },
    );
    expect(relabelled.data).toEqual(s.data);
  });

  it('renews a certificate when renewBefore says, before it expires', async () => {
    // The shortest lifetime allowed (1h, as cert-manager's), due 3 s after issuance.
    await client.create(Certificates, {
      metadata: { name: 'short', namespace: ns },
      spec: {
        secretName: 'short-tls',
        issuerRef: { name: 'self' },
        dnsNames: ['short.example.test'],
        duration: '1h',
        renewBefore: '59m57s',
      },
    });
    const first = secretText(await issued('short-tls'), 'tls.crt');
    await issued('short-tls', (pem) => pem !== first);
    // The status follows the Secret write by a moment.
    await waitFor(async () => {
      const cert = await client.get(Certificates, { namespace: ns, name: 'short' });
      return (cert.status?.revision ?? 0) >= 2;
    });
    // It would renew every 3 s from now on.
    await client.delete(Certificates, { namespace: ns, name: 'short' });
  }, 60_000);

  it('re-issues on a manual renewal request, whatever the backoff says', async () => {
    await client.create(Certificates, {
      metadata: { name: 'manual', namespace: ns },
      spec: { secretName: 'manual-tls', issuerRef: { name: 'self' }, dnsNames: ['m.example.test'] },
    });
    const first = secretText(await issued('manual-tls'), 'tls.crt');
    await waitForCondition(client, Certificates, { namespace: ns, name: 'manual' }, 'Ready');
    // What kubectl chousei certs renew (and cmctl renew) write, with failures on record whose
    // backoff would hold any other issuance for hours.
    const cert = await client.get(Certificates, { namespace: ns, name: 'manual' });
    await client.updateStatus(Certificates, {
      ...cert,
      status: {
        ...cert.status,
        conditions: setCondition(cert.status?.conditions, {
          type: 'Issuing',
          status: 'True',
          reason: MANUAL_TRIGGER_REASON,
          message: 'Certificate re-issuance manually triggered',
        }).conditions,
        failedIssuanceAttempts: 3,
        lastFailureTime: new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        observedGeneration: cert.metadata?.generation,
      },
    });
    const renewed = secretText(await issued('manual-tls', (pem) => pem !== first), 'tls.crt');
    expect(inspectCertificate(renewed).serialNumber).not.toBe(
      inspectCertificate(first).serialNumber,
    );
    const after = await waitFor(async () => {
      const c = await client.get(Certificates, { namespace: ns, name: 'manual' });
      return c.status?.revision === 2 && c;
    });
    // The request is consumed: Issuing goes False, and the failures are forgotten.
    expect(after.status?.conditions?.find((c) => c.type === 'Issuing')).toMatchObject({
      status: 'False',
      reason: 'Issued',
    });
    expect(after.status?.failedIssuanceAttempts).toBeUndefined();
    // Written in the background: revision 2 does not say the Event is there yet, and the
    // first issuance's Issuing Event is.
    const notes = (
      await waitForEvent(
        client,
        { kind: 'Certificate', namespace: ns, name: 'manual' },
        (e) => e.reason === 'Issuing' && !!e.note?.includes('manually triggered'),
      )
    ).map((e) => e.note);
    expect(notes).toContain('Issuing certificate: Certificate re-issuance manually triggered');
  });

  it('reports a missing issuer, then issues once it exists', async () => {
    await client.create(Certificates, {
      metadata: { name: 'later', namespace: ns },
      spec: {
        secretName: 'later-tls',
        issuerRef: { name: 'not-yet' },
        dnsNames: ['later.example.test'],
      },
    });
    const cert = await waitForCondition(
      client,
      Certificates,
      { namespace: ns, name: 'later' },
      'Ready',
      { status: 'False' },
    );
    expect(cert.status?.conditions?.find((c) => c.type === 'Ready')?.reason).toBe('IssuerNotFound');
    await client.create(Issuers, {
      metadata: { name: 'not-yet', namespace: ns },
      spec: { selfSigned: {} },
    });
    await issued('later-tls');
  });

  it('issue 16, the series the alerts read: Ready from the start, the issuer named now, none left after deletion', async () => {
    const series = async () =>
      parseMetrics(await metricsRegistry.metrics())
        .filter((m) => m.labels.namespace === ns && m.labels.name === 'watched')
        .map(
          (m) => `${m.name}${JSON.stringify({ ...m.labels, namespace: '', name: '' })} ${m.value}`,
        )
        .sort();
    const readyStatus = (ready: boolean) => [
      `chousei_cert_certificate_ready_status{"namespace":"","name":"","condition":"False"} ${ready ? 0 : 1}`,
      `chousei_cert_certificate_ready_status{"namespace":"","name":"","condition":"True"} ${ready ? 1 : 0}`,
    ];
    await client.create(Certificates, {
      metadata: { name: 'watched', namespace: ns },
      spec: {
        secretName: 'watched-tls',
        issuerRef: { name: 'first' },
        dnsNames: ['w.example.test'],
      },
    });
    // Not Ready (its issuer is missing): the not-Ready alert must see it.
    await waitForCondition(client, Certificates, { namespace: ns, name: 'watched' }, 'Ready', {
      status: 'False',
    });
    await waitFor(async () => (await series()).join() === readyStatus(false).join(), {
      description: 'ready_status False',
    });
    await client.create(Issuers, {
      metadata: { name: 'first', namespace: ns },
      spec: { selfSigned: {} },
    });
    const times = (c: Certificate, issuer: string) => [
      `chousei_cert_certificate_expiration_timestamp_seconds{"namespace":"","name":"","issuer_name":"${issuer}","issuer_kind":"Issuer"} ${Date.parse(c.status!.notAfter!) / 1000}`,
      `chousei_cert_certificate_renewal_timestamp_seconds{"namespace":"","name":"","issuer_name":"${issuer}","issuer_kind":"Issuer"} ${Date.parse(c.status!.renewalTime!) / 1000}`,
    ];
    const first = await waitForCondition(
      client,
      Certificates,
      { namespace: ns, name: 'watched' },
      'Ready',
    );
    await waitFor(
      async () =>
        (await series()).join() === [...times(first, 'first'), ...readyStatus(true)].sort().join(),
      { description: 'the series of the first issuer' },
    );
    // Another issuer: the certificate is issued again, and the first issuer's series go.
    await patchSpec('watched', { issuerRef: { name: 'self' } });
    const second = await waitFor(async () => {
      const c = await client.get(Certificates, { namespace: ns, name: 'watched' });
      return (
        c.status?.revision === 2 &&
        c.status.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') &&
        c
      );
    });
    await waitFor(
      async () =>
        (await series()).join() === [...times(second, 'self'), ...readyStatus(true)].sort().join(),
      { description: 'the series of the second issuer only' },
    );
    await client.delete(Certificates, { namespace: ns, name: 'watched' });
    await waitFor(async () => (await series()).length === 0, { description: 'no series left' });
  });

  it('deletes the Secret with its Certificate', async () => {
    await client.delete(Certificates, { namespace: ns, name: 'later' });
    await waitFor(async () => !(await secret('later-tls')), { timeoutMs: 15_000 });
  });

  it('makes Certificates for annotated Ingresses and keeps them in step (ingress shim)', async () => {
    await client.create(Ingresses, {
      metadata: {
        name: 'shop',
        namespace: ns,
        annotations: { 'cert-manager.io/issuer': 'self', 'cert-manager.io/duration': '720h' },
      },
      spec: {
        tls: [{ hosts: ['shop.example.test'], secretName: 'shop-tls' }],
        rules: [{ host: 'shop.example.test' }],
      },
    });
    const cert = await waitFor(
      () => client.get(Certificates, { namespace: ns, name: 'shop-tls' }),
      { timeoutMs: 15_000 },
    );
    expect(cert.spec).toMatchObject({
      secretName: 'shop-tls',
      issuerRef: { name: 'self', kind: 'Issuer' },
      dnsNames: ['shop.example.test'],
      duration: '720h',
    });
    expect(cert.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: 'Ingress',
      name: 'shop',
      controller: true,
    });
    await issued('shop-tls');

    await client.patch(
      Ingresses,
      { namespace: ns, name: 'shop' },
      {
        type: 'merge',
        patch: {
          spec: {
            tls: [
              { hosts: ['shop.example.test', 'm.shop.example.test'], secretName: 'shop-tls' },
              { hosts: ['a.example.test'], secretName: 'dup' },
              { hosts: ['b.example.test'], secretName: 'dup' },
            ],
          },
        },
      },
    );
    await issued('shop-tls', (pem) => inspectCertificate(pem).dnsNames.length === 2);
    const warnings = await waitFor(async () => {
      const evs = await client.list(Events, { namespace: ns });
      return evs
        .filter((e) => e.regarding?.name === 'shop' && e.type === 'Warning')
        .map((e) => e.note ?? '')
        .find((n) => n.includes('dup'));
    });
    expect(warnings).toMatch(/spec\.tls\[1\], spec\.tls\[2\] all name secretName "dup"/);

    // A TLS entry the Certificate schema refuses (no hosts): said on the Ingress, not retried.
    await client.patch(
      Ingresses,
      { namespace: ns, name: 'shop' },
      { type: 'json', patch: [{ op: 'add', path: '/spec/tls/-', value: { secretName: 'bare' } }] },
    );
    const refused = await waitFor(async () => {
      const evs = await client.list(Events, { namespace: ns });
      return evs.find((e) => e.regarding?.name === 'shop' && e.note?.includes('bare refused'));
    });
    expect(refused).toMatchObject({ type: 'Warning', reason: 'BadConfig' });

    await client.patch(
      Ingresses,
      { namespace: ns, name: 'shop' },
      {
        type: 'json',
        patch: [{ op: 'remove', path: '/metadata/annotations/cert-manager.io~1issuer' }],
      },
    );
    await waitFor(
      () =>
        client.get(Certificates, { namespace: ns, name: 'shop-tls' }).then(
          () => false,
          () => true,
        ),
      { timeoutMs: 15_000 },
    );
  });
});
