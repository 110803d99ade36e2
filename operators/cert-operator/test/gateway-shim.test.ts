// cert-manager's Gateway API shim, on a real API server with Gateway API's own CRDs
// (experimental channel): Gateways and ListenerSets annotated with an issuer get Certificates.
import { X509Certificate } from 'node:crypto';
import {
  Client,
  Events,
  type Gateway,
  Gateways,
  Ingresses,
  type Listener,
  ListenerSets,
  type SecretObjectReference,
  Secrets,
} from '@chousei/runtime';
import { type RunningManager, waitFor, waitForCondition } from '@chousei/runtime/testing';
import { installGatewayApi } from '@chousei/testenv';
import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRDS } from '../src/api/crds.js';
import { Certificates, ClusterIssuers, Issuers } from '../src/api/types.js';
import { startCertOperator } from './operator.js';
import { secretText } from './secret-text.js';

const https = (name: string, hostname: string | undefined, secret: string): Listener => ({
  name,
  port: 443,
  protocol: 'HTTPS',
  ...(hostname ? { hostname } : {}),
  tls: { mode: 'Terminate', certificateRefs: [{ name: secret }] },
});

describe('cert-operator: Gateway API shim', () => {
  let client: Client;
  let ns: string;
  let running: RunningManager;

  beforeAll(async () => {
    const cluster = await sharedCluster();
    await cluster.apply(CRDS);
    await installGatewayApi(cluster, 'experimental');
    ns = await cluster.createNamespace('gwshim');
    client = new Client(cluster.kubeConfig);
    ({ running } = await startCertOperator({
      clusterResourceNamespace: ns,
      http01SolverPort: 0,
      http01SolverHost: '127.0.0.1',
      gatewayAPI: { listenerSets: true },
      // For `kubernetes.io/tls-acme: "true"`, as --default-issuer-name gives it.
      defaultIssuer: { name: 'self', kind: 'Issuer' },
      backoff: { initialMs: 1000, maxMs: 4000 },
    }));
    await client.create(Issuers, {
      metadata: { name: 'self', namespace: ns },
      spec: { selfSigned: {} },
    });
  });
  afterAll(() => running?.stop());

  const certificate = (name: string) =>
    client.get(Certificates, { namespace: ns, name }).catch(() => undefined);
  const notes = async (kind: string, name: string) =>
    (await client.list(Events, { namespace: ns }))
      .filter((e) => e.regarding?.kind === kind && e.regarding.name === name)
      .map((e) => `${e.type} ${e.reason}: ${e.note}`);
  const gateway = (name: string, listeners: Listener[], annotations: Record<string, string>) =>
    client.create(Gateways, {
      metadata: { name, namespace: ns, annotations },
      spec: { gatewayClassName: 'test', listeners },
    } as Gateway);
  const leafOf = async (secret: string) => {
    const s = await waitFor(() => client.get(Secrets, { namespace: ns, name: secret }), {
      timeoutMs: 15_000,
    });
    return new X509Certificate(secretText(s, 'tls.crt'));
  };

  it('a Gateway gets one Certificate per Secret of its HTTPS and TLS listeners in Terminate mode, with their hostnames; others are skipped with an Event saying why', async () => {
    await gateway(
      'edge',
      [
        https('a', 'a.gw.example.test', 'site-tls'),
        https('b', 'b.gw.example.test', 'site-tls'),
        {
          name: 'tls',
          port: 8443,
          protocol: 'TLS',
          hostname: 't.gw.example.test',
          tls: { mode: 'Terminate', certificateRefs: [{ name: 'tls-tls' }] },
        },
        {
          name: 'pt',
          port: 9443,
          protocol: 'TLS',
          hostname: 'pt.gw.example.test',
          tls: { mode: 'Passthrough' },
        },
        https('any', undefined, 'any-tls'),
        https('skipme', 'skip.gw.example.test', 'skip-tls'),
        { name: 'plain', port: 80, protocol: 'HTTP', hostname: 'plain.gw.example.test' },
      ],
      {
        'cert-manager.io/issuer': 'self',
        'cert.chousei.dev/duration': '720h',
        'cert-manager.io/ignore-tls-listeners': 'skipme',
      },
    );
    const site = await waitFor(() => certificate('site-tls'), { timeoutMs: 15_000 });
    expect(site.spec).toMatchObject({
      secretName: 'site-tls',
      issuerRef: { name: 'self', kind: 'Issuer' },
      dnsNames: ['a.gw.example.test', 'b.gw.example.test'],
      duration: '720h',
    });
    expect(site.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Gateway', name: 'edge', controller: true }),
    ]);
    expect((await waitFor(() => certificate('tls-tls'))).spec.dnsNames).toEqual([
      't.gw.example.test',
    ]);
    expect((await leafOf('site-tls')).subjectAltName).toBe(
      'DNS:a.gw.example.test, DNS:b.gw.example.test',
    );
    const events = await waitFor(async () => {
      const n = await notes('Gateway', 'edge');
      return n.some((x) => x.includes('Skipped')) && n.some((x) => x.includes('hostname')) && n;
    });
    expect(events).toContain(
      'Normal Skipped: spec.listeners[3] (pt): TLS mode Passthrough: the backend terminates TLS, so no certificate is made for it',
    );
    expect(events).toContain(
      'Warning BadConfig: spec.listeners[4].hostname: listener any has none (it serves any name): a certificate needs the names it is for',
    );
    expect(await certificate('any-tls')).toBeUndefined();
    expect(await certificate('skip-tls')).toBeUndefined();

    // Listeners go: the Certificate follows, one no listener names goes.
    await client.patch(
      Gateways,
      { namespace: ns, name: 'edge' },
      {
        type: 'merge',
        patch: { spec: { listeners: [https('a', 'a.gw.example.test', 'site-tls')] } },
      },
    );
    await waitFor(async () => (await certificate('site-tls'))?.spec.dnsNames?.length === 1);
    await waitFor(async () => !(await certificate('tls-tls')), { timeoutMs: 15_000 });
    await waitFor(async () =>
      (await notes('Gateway', 'edge')).includes(
        'Normal DeleteCertificate: Deleted Certificate tls-tls',
      ),
    );
  });

  it("the Ingress shim's other annotations on Gateways: cluster-issuer in both prefixes, common-name, renew-before, the private key's algorithm and size, tls-acme with the default issuer; bad ones reported naming the field", async () => {
    const issuer = `self-${ns}`;
    await client.create(ClusterIssuers, { metadata: { name: issuer }, spec: { selfSigned: {} } });
    try {
      await waitForCondition(client, ClusterIssuers, { name: issuer }, 'Ready');
      await gateway('keyed', [https('web', 'keyed.gw.example.test', 'keyed-tls')], {
        'cert-manager.io/cluster-issuer': issuer,
        'cert-manager.io/common-name': 'keyed.gw.example.test',
        'cert.chousei.dev/renew-before': '240h',
        'cert-manager.io/private-key-algorithm': 'ECDSA',
        'cert.chousei.dev/private-key-size': '384',
      });
      const keyed = await waitFor(() => certificate('keyed-tls'), { timeoutMs: 15_000 });
      expect(keyed.spec).toEqual({
        secretName: 'keyed-tls',
        issuerRef: { name: issuer, kind: 'ClusterIssuer' },
        dnsNames: ['keyed.gw.example.test'],
        commonName: 'keyed.gw.example.test',
        renewBefore: '240h',
        privateKey: { algorithm: 'ECDSA', size: 384 },
      });
      const leaf = await leafOf('keyed-tls');
      expect(leaf.subject).toBe('CN=keyed.gw.example.test');
      expect(leaf.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');

      await gateway('acme', [https('web', 'acme.gw.example.test', 'acme-tls')], {
        'kubernetes.io/tls-acme': 'true',
      });
      const acme = await waitFor(() => certificate('acme-tls'), { timeoutMs: 15_000 });
      expect(acme.spec.issuerRef).toEqual({ name: 'self', kind: 'Issuer' });

      const refs = (...certificateRefs: SecretObjectReference[]): Listener => ({
        ...https('refs', 'refs.gw.example.test', 'unused'),
        tls: { mode: 'Terminate', certificateRefs },
      });
      await gateway(
        'bad',
        [
          https('web', 'bad.gw.example.test', 'bad-tls'),
          refs(
            { kind: 'ConfigMap', name: 'cm' },
            { namespace: 'elsewhere', name: 'far-tls' },
            { group: 'example.com', name: 'odd' },
          ),
          {
            ...https('none', 'none.gw.example.test', 'x'),
            // Certificates from elsewhere (an implementation's option), no Secret.
            tls: { mode: 'Terminate', options: { 'example.com/certificate': 'vault' } },
          },
        ],
        {
          'cert.chousei.dev/cluster-issuer': issuer,
          'cert-manager.io/duration': 'soon',
          'cert-manager.io/private-key-algorithm': 'DSA',
        },
      );
      // What is sound is asked for all the same: the issuer, the names.
      const bad = await waitFor(() => certificate('bad-tls'), { timeoutMs: 15_000 });
      expect(bad.spec).toEqual({
        secretName: 'bad-tls',
        issuerRef: { name: issuer, kind: 'ClusterIssuer' },
        dnsNames: ['bad.gw.example.test'],
      });
      const want = [
        'Warning BadConfig: metadata.annotations[cert-manager.io/duration]: "soon" is not a duration such as 2160h or 90m',
        'Warning BadConfig: metadata.annotations[cert-manager.io/private-key-algorithm]: "DSA" is not ECDSA, RSA or Ed25519',
        'Warning BadConfig: spec.listeners[1].tls.certificateRefs[0].kind: "ConfigMap" is not a Secret: only a Secret holds a certificate',
        `Warning BadConfig: spec.listeners[1].tls.certificateRefs[1].namespace: "elsewhere": a Certificate is made in the Gateway's own namespace, ${ns}`,
        'Warning BadConfig: spec.listeners[1].tls.certificateRefs[2].group: "example.com" is not the core group: only a Secret holds a certificate',
        'Warning BadConfig: spec.listeners[2].tls.certificateRefs: listener none names no Secret',
      ];
      const events = await waitFor(async () => {
        const n = await notes('Gateway', 'bad');
        return want.every((w) => n.includes(w)) && n;
      });
      expect(events.filter((e) => e.startsWith('Warning')).sort()).toEqual(want.sort());
      for (const name of ['cm', 'far-tls', 'odd', 'x'])
        expect(await certificate(name)).toBeUndefined();
    } finally {
      await client.delete(ClusterIssuers, { name: issuer });
    }
  });

  it("cert-manager's defaults on Gateways as on Ingresses (one code path): private-key-size alone is an RSA key of that size", async () => {
    await gateway('sized', [https('web', 'sized.gw.example.test', 'sized-tls')], {
      'cert-manager.io/issuer': 'self',
      'cert-manager.io/private-key-size': '3072',
    });
    const sized = await waitFor(() => certificate('sized-tls'), { timeoutMs: 15_000 });
    expect(sized.spec.privateKey).toEqual({ algorithm: 'RSA', size: 3072 });
    const leaf = await leafOf('sized-tls');
    expect(leaf.publicKey.asymmetricKeyType).toBe('rsa');
    expect(leaf.publicKey.asymmetricKeyDetails?.modulusLength).toBe(3072);
  });

  it("cert-manager's defaults on Gateways as on Ingresses (one code path): issuer and cluster-issuer together refuse the Gateway whole, its Certificate left as it is", async () => {
    await gateway('refused', [https('web', 'refused.gw.example.test', 'refused-tls')], {
      'cert-manager.io/issuer': 'self',
    });
    const before = await waitFor(() => certificate('refused-tls'), { timeoutMs: 15_000 });
    // Both issuers, and a new hostname the Certificate would otherwise follow.
    await client.patch(
      Gateways,
      { namespace: ns, name: 'refused' },
      {
        type: 'merge',
        patch: {
          metadata: { annotations: { 'cert.chousei.dev/cluster-issuer': 'other' } },
          spec: { listeners: [https('web', 'moved.gw.example.test', 'refused-tls')] },
        },
      },
    );
    await waitFor(async () =>
      (await notes('Gateway', 'refused')).includes(
        'Warning BadConfig: metadata.annotations: both cert-manager.io/issuer and cert.chousei.dev/cluster-issuer may not be set (cert-manager refuses such a Gateway too): no Certificate is made or changed',
      ),
    );
    // The reconcile that told it has returned: nothing was applied after the Event.
    await new Promise((r) => setTimeout(r, 1000));
    const kept = await certificate('refused-tls');
    expect(kept?.spec).toEqual(before.spec);
    expect(kept?.metadata?.generation).toBe(before.metadata?.generation);
  });

  it('a ListenerSet annotated with an issuer gets the Certificates of its listeners, owned by it', async () => {
    await gateway('parent', [https('base', 'base.gw.example.test', 'base-tls')], {});
    await client.create(ListenerSets, {
      metadata: { name: 'team', namespace: ns, annotations: { 'cert.chousei.dev/issuer': 'self' } },
      spec: {
        parentRef: { name: 'parent' },
        listeners: [https('team', 'team.gw.example.test', 'team-tls')],
      },
    });
    const team = await waitFor(() => certificate('team-tls'), { timeoutMs: 15_000 });
    expect(team.spec.dnsNames).toEqual(['team.gw.example.test']);
    expect(team.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'ListenerSet', name: 'team', controller: true }),
    ]);
    // The Gateway without an issuer annotation asks for nothing.
    expect(await certificate('base-tls')).toBeUndefined();
    await leafOf('team-tls');
  });

  it('an Ingress and a Gateway asking for one Secret: one Certificate, issued once, handed to the Gateway when the Ingress lets go', async () => {
    await client.create(Ingresses, {
      metadata: {
        name: 'legacy',
        namespace: ns,
        annotations: { 'cert-manager.io/issuer': 'self' },
      },
      spec: {
        tls: [{ hosts: ['move.gw.example.test'], secretName: 'move-tls' }],
        rules: [{ host: 'move.gw.example.test' }],
      },
    });
    const before = await leafOf('move-tls');
    await gateway('modern', [https('web', 'move.gw.example.test', 'move-tls')], {
      'cert-manager.io/issuer': 'self',
    });
    await waitFor(async () =>
      (await notes('Gateway', 'modern')).includes(
        'Warning BadConfig: Certificate move-tls exists and is not owned by this Gateway: left alone',
      ),
    );
    expect((await certificate('move-tls'))?.metadata?.ownerReferences?.[0]?.kind).toBe('Ingress');

    // The Ingress lets go: the Certificate passes to the Gateway, not deleted and issued again.
    await client.patch(
      Ingresses,
      { namespace: ns, name: 'legacy' },
      {
        type: 'json',
        patch: [{ op: 'remove', path: '/metadata/annotations/cert-manager.io~1issuer' }],
      },
    );
    const moved = await waitFor(async () => {
      const c = await certificate('move-tls');
      return c?.metadata?.ownerReferences?.[0]?.kind === 'Gateway' && c;
    });
    expect(moved.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Gateway', name: 'modern', controller: true }),
    ]);
    await waitFor(async () =>
      (await notes('Ingress', 'legacy')).includes(
        'Normal HandOverCertificate: Certificate move-tls handed over to Gateway modern, which asks for it',
      ),
    );
    // Given time to act on its new owner's spec (the same names), nothing is issued again.
    await new Promise((r) => setTimeout(r, 1500));
    const after = await client.get(Certificates, { namespace: ns, name: 'move-tls' });
    expect(after.status?.revision).toBe(1);
    expect((await leafOf('move-tls')).serialNumber).toBe(before.serialNumber);
  });
});
