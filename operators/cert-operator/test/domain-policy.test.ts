// DomainPolicies bind what a shared ClusterIssuer issues to each namespace. Policies are
// cluster-wide: each test removes its own, and files of this suite run one at a time.
import { randomBytes } from 'node:crypto';
import { DomainPolicies, type DomainPolicy } from '@chousei/dns';
import { Client, Events, Ingresses, Namespaces, Secrets } from '@chousei/runtime';
import { type RunningManager, waitFor, waitForCondition } from '@chousei/runtime/testing';
import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CRDS } from '../src/api/crds.js';
import { type Certificate, Certificates, ClusterIssuers, Issuers } from '../src/api/types.js';
import { inspectCertificate } from '../src/pki/index.js';
import { startCertOperator } from './operator.js';
import { secretText } from './secret-text.js';

describe('cert-operator: DomainPolicies bind ClusterIssuers', () => {
  let client: Client;
  let victim: string;
  let tenant: string;
  let running: RunningManager;
  const id = randomBytes(4).toString('hex');
  const issuer = `shared-${id}`;
  const policies: string[] = [];

  beforeAll(async () => {
    const cluster = await sharedCluster();
    await cluster.apply(CRDS);
    victim = await cluster.createNamespace('victim');
    tenant = await cluster.createNamespace('tenant');
    client = new Client(cluster.kubeConfig);
    ({ running } = await startCertOperator({
      clusterResourceNamespace: victim,
      http01SolverPort: 0,
      http01SolverHost: '127.0.0.1',
      backoff: { initialMs: 1000, maxMs: 4000 },
    }));
    await client.create(ClusterIssuers, { metadata: { name: issuer }, spec: { selfSigned: {} } });
    await waitForCondition(client, ClusterIssuers, { name: issuer }, 'Ready');
  });
  afterEach(async () => {
    for (const name of policies.splice(0)) await client.delete(DomainPolicies, { name });
  });
  afterAll(async () => {
    await running?.stop();
    await client?.delete(ClusterIssuers, { name: issuer }).catch(() => undefined);
  });

  const policy = async (name: string, spec: DomainPolicy['spec']) => {
    const full = `${name}-${id}`;
    policies.push(full);
    await client.create(DomainPolicies, { metadata: { name: full }, spec });
    return full;
  };
  const certificate = (
    namespace: string,
    name: string,
    names: Pick<Certificate['spec'], 'dnsNames' | 'commonName'>,
    kind: 'ClusterIssuer' | 'Issuer' = 'ClusterIssuer',
  ) =>
    client.create(Certificates, {
      metadata: { name, namespace },
      spec: {
        secretName: `${name}-tls`,
        issuerRef: { name: kind === 'ClusterIssuer' ? issuer : 'own', kind },
        ...names,
      },
    });
  /** The certificate's names once issued into its Secret. */
  const issuedNames = async (namespace: string, name: string) => {
    const s = await waitFor(
      async () => {
        const secret = await client
          .get(Secrets, { namespace, name: `${name}-tls` })
          .catch(() => undefined);
        return secretText(secret, 'tls.crt') && secret;
      },
      { timeoutMs: 20_000, description: `${namespace}/${name}-tls issued` },
    );
    return inspectCertificate(secretText(s, 'tls.crt')).dnsNames.sort();
  };
  /** The Ready condition once the operator decided, whichever way. */
  const decided = async (namespace: string, name: string) =>
    waitFor(
      async () => {
        const cert = await client.get(Certificates, { namespace, name });
        const ready = cert.status?.conditions?.find((c) => c.type === 'Ready');
        return (ready?.status === 'True' || ready?.reason === 'DomainNotAllowed') && ready;
      },
      { timeoutMs: 20_000, description: `${namespace}/${name} Ready decided` },
    );
  const warnings = async (namespace: string, name: string) =>
    (await client.list(Events, { namespace }))
      .filter((e) => e.regarding?.name === name && e.type === 'Warning')
      .map((e) => `${e.reason}: ${e.note}`);
  const noSecret = async (namespace: string, name: string) =>
    expect(await client.get(Secrets, { namespace, name: `${name}-tls` }).catch(() => 'none')).toBe(
      'none',
    );

  it('issues any name from a ClusterIssuer while no policy exists, as cert-manager does', async () => {
    await certificate(tenant, 'anything', {
      dnsNames: ['www.shop.example.test', '*.example.test'],
    });
    expect(await issuedNames(tenant, 'anything')).toEqual([
      '*.example.test',
      'www.shop.example.test',
    ]);
  });

  it('finding 12: a Certificate for a name a policy gives another namespace is refused naming the rule, nothing issued; allowed names still issue', async () => {
    await policy('shop', {
      namespaces: [victim],
      domains: [{ suffix: 'shop.example.test' }],
    });
    const own = await policy('tenant', {
      namespaces: [tenant],
      domains: [{ suffix: 'tenant.example.test' }],
    });
    await certificate(victim, 'web', { dnsNames: ['www.shop.example.test'] });
    await certificate(tenant, 'steal', {
      dnsNames: ['www.tenant.example.test', 'www.shop.example.test'],
    });
    await certificate(tenant, 'mine', { dnsNames: ['www.tenant.example.test'] });

    const ready = await decided(tenant, 'steal');
    expect(ready).toMatchObject({ status: 'False', reason: 'DomainNotAllowed' });
    expect(ready.message).toBe(
      `not issued from ClusterIssuer ${issuer}: spec.dnsNames[1]: www.shop.example.test is under none of the suffixes of the DomainPolicies selecting namespace ${tenant}: ${own} (tenant.example.test)`,
    );
    const events = await waitFor(async () =>
      (await warnings(tenant, 'steal')).find((w) => w.startsWith('DomainNotAllowed: ')),
    );
    expect(events).toContain('spec.dnsNames[1]: www.shop.example.test');
    await noSecret(tenant, 'steal');

    expect(await issuedNames(tenant, 'mine')).toEqual(['www.tenant.example.test']);
    expect(await issuedNames(victim, 'web')).toEqual(['www.shop.example.test']);

    // The commonName is a name too; the suffix itself only with apex.
    await certificate(tenant, 'by-cn', {
      commonName: 'www.shop.example.test',
      dnsNames: ['www.tenant.example.test'],
    });
    await certificate(tenant, 'apex', { dnsNames: ['tenant.example.test'] });
    expect((await decided(tenant, 'by-cn')).message).toContain(
      'spec.commonName: www.shop.example.test is under none of the suffixes',
    );
    expect((await decided(tenant, 'apex')).message).toBe(
      `not issued from ClusterIssuer ${issuer}: spec.dnsNames[0]: tenant.example.test: DomainPolicy ${own} domains[0] (tenant.example.test) does not allow the suffix itself (apex: false)`,
    );
    await noSecret(tenant, 'apex');
  });

  it('finding 12: Certificates the ingress shim makes go through the same check', async () => {
    await policy('tenant', { namespaces: [tenant], domains: [{ suffix: 'tenant.example.test' }] });
    await client.create(Ingresses, {
      metadata: {
        name: 'grab',
        namespace: tenant,
        annotations: { 'cert-manager.io/cluster-issuer': issuer },
      },
      spec: {
        tls: [{ hosts: ['pay.shop.example.test'], secretName: 'grab-tls' }],
        rules: [{ host: 'pay.shop.example.test' }],
      },
    });
    const ready = await decided(tenant, 'grab-tls');
    expect(ready).toMatchObject({ status: 'False', reason: 'DomainNotAllowed' });
    expect(ready.message).toContain('spec.dnsNames[0]: pay.shop.example.test is under none');
    await noSecret(tenant, 'grab');
  });

  it('issues once a policy or a namespace label allows the name, without a spec change', async () => {
    const label = `tenant-${id}`;
    const own = await policy('labelled', {
      namespaceSelector: { matchLabels: { [label]: 'web' } },
      domains: [{ suffix: 'late.example.test', wildcards: true }],
    });
    await certificate(tenant, 'late', { dnsNames: ['*.late.example.test'] });
    expect((await decided(tenant, 'late')).message).toContain(
      `*.late.example.test: no DomainPolicy selects namespace ${tenant}`,
    );
    await client.patch(
      Namespaces,
      { name: tenant },
      { type: 'merge', patch: { metadata: { labels: { [label]: 'web' } } } },
    );
    expect(await issuedNames(tenant, 'late')).toEqual(['*.late.example.test']);
    await waitForCondition(client, Certificates, { namespace: tenant, name: 'late' }, 'Ready');

    await certificate(tenant, 'later', { dnsNames: ['www.later.example.test'] });
    expect((await decided(tenant, 'later')).reason).toBe('DomainNotAllowed');
    await client.patch(
      DomainPolicies,
      { name: own },
      {
        type: 'merge',
        patch: {
          spec: {
            domains: [
              { suffix: 'late.example.test', wildcards: true },
              { suffix: 'later.example.test' },
            ],
          },
        },
      },
    );
    expect(await issuedNames(tenant, 'later')).toEqual(['www.later.example.test']);
  });

  it("binds only ClusterIssuers: a namespace's own Issuer issues what it likes", async () => {
    await policy('tenant', { namespaces: [tenant], domains: [{ suffix: 'tenant.example.test' }] });
    await client.create(Issuers, {
      metadata: { name: 'own', namespace: tenant },
      spec: { selfSigned: {} },
    });
    await certificate(tenant, 'private', { dnsNames: ['intranet.corp.test'] }, 'Issuer');
    expect(await issuedNames(tenant, 'private')).toEqual(['intranet.corp.test']);
  });
});
