import { X509Certificate } from 'node:crypto';
import {
  Client,
  Events,
  HTTPRoutes,
  Informer,
  Ingresses,
  type KubeObject,
  type ResourceType,
  Secrets,
} from '@chousei/runtime';
import { type RunningManager, waitFor, waitForCondition } from '@chousei/runtime/testing';
import {
  type Bind9,
  freePort,
  installGatewayApi,
  type Pebble,
  startBind9,
  startPebble,
} from '@chousei/testenv';
import { sharedCluster } from '@chousei/testenv/vitest';
import type * as acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRDS } from '../src/api/crds.js';
import { Certificates, Issuers } from '../src/api/types.js';
import { renewalTime } from '../src/controllers/policy.js';
import { ariCertId } from '../src/issuers/acme/index.js';
import { inspectCertificate } from '../src/pki/index.js';
import { LABEL_HTTP01 } from '../src/solvers/http01/routed.js';
import { startCertOperator } from './operator.js';
import { ordersOf, pebbleIssuer } from './pebble-account.js';
import { secretText } from './secret-text.js';

/** Verifies a PEM bundle leaf -> intermediates against a root. */
function chainVerifies(bundle: string, rootPem: string): boolean {
  const certs = bundle
    .split(/(?<=-----END CERTIFICATE-----)\s*/)
    .filter((p) => p.includes('BEGIN'))
    .map((p) => new X509Certificate(p));
  const root = new X509Certificate(rootPem);
  const chain = [...certs, root];
  return certs.every((c, i) => c.checkIssued(chain[i + 1]!) && c.verify(chain[i + 1]!.publicKey));
}

describe('cert-operator with ACME (Pebble, 5% nonce rejection on) and HTTP-01', () => {
  let bind: Bind9;
  let pebble: Pebble;
  let client: Client;
  let ns: string;
  let running: RunningManager;
  const logs: string[] = [];

  beforeAll(async () => {
    // Every name under example.test resolves to this machine, where the solver listens; a
    // zone inside it on the same server, for DNS-01 solvers that find zones by SOA.
    bind = await startBind9({
      zones: ['example.test', 'team.example.test'],
      records: { 'example.test': ['* 300 IN A 127.0.0.1'] },
    });
    const solverPort = await freePort();
    pebble = await startPebble({ httpPort: solverPort, dnsServer: bind.address });
    const cluster = await sharedCluster();
    await cluster.apply(CRDS);
    await installGatewayApi(cluster, 'experimental');
    ns = await cluster.createNamespace('acme');
    client = new Client(cluster.kubeConfig);
    ({ running } = await startCertOperator(
      {
        clusterResourceNamespace: ns,
        http01SolverPort: solverPort,
        http01SolverHost: '127.0.0.1',
        // As in a cluster: challenges are also routed by temporary Ingresses to this Service.
        http01SolverService: { namespace: ns, name: 'cert-operator-solver', port: 8089 },
        // gatewayHTTPRoute solvers route through temporary HTTPRoutes instead.
        gatewayAPI: { listenerSets: false },
        // The self-check looks where Pebble does: names in BIND9, the port Pebble connects to.
        http01SelfCheck: { port: solverPort, nameservers: [bind] },
        backoff: { initialMs: 1000, maxMs: 2000 },
        // ACME Renewal Information asked for every second, not every 6 h.
        renewalInfoIntervalMs: 1000,
      },
      // Everything the operator logs, at debug level, to check no key ever appears in it.
      { level: 'debug', capture: logs },
    ));
    await client.create(Issuers, {
      metadata: { name: 'pebble', namespace: ns },
      spec: {
        acme: {
          server: pebble.directoryUrl,
          email: 'ops@example.test',
          privateKeySecretRef: { name: 'pebble-account' },
          caBundle: Buffer.from(pebble.tlsCaPem).toString('base64'),
          solvers: [{ http01: {} }],
        },
      },
    });
  });
  afterAll(async () => {
    await running?.stop();
    await pebble?.stop();
    await bind?.stop();
  });

  /**
   * Watches the temporary challenge objects (Ingresses or HTTPRoutes) come; `gone` resolves
   * once none is left, and ends the watch.
   */
  async function watchChallengeRoutes<T extends KubeObject>(rt: ResourceType<T>) {
    const routes: T[] = [];
    const stopWatch = new AbortController();
    const informer = new Informer(client.transport, rt, {
      namespace: ns,
      labelSelector: LABEL_HTTP01,
    });
    informer.addHandler({ onAdd: (r) => routes.push(r) });
    void informer.start(stopWatch.signal);
    await informer.waitForSync();
    const gone = async () => {
      await waitFor(() => informer.store.size === 0, { timeoutMs: 10_000 });
      stopWatch.abort();
    };
    return { routes, gone };
  }

  it('registers the account (generating its key) and reports the Issuer Ready', async () => {
    const issuer = await waitForCondition(
      client,
      Issuers,
      { namespace: ns, name: 'pebble' },
      'Ready',
      { timeoutMs: 20_000 },
    );
    expect(issuer.status?.acme?.uri).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);
    const key = await client.get(Secrets, { namespace: ns, name: 'pebble-account' });
    expect(secretText(key, 'tls.key')).toMatch(/BEGIN PRIVATE KEY/);
  });

  it("issues over HTTP-01: the chain verifies against Pebble's root, names and key as asked", async () => {
    // Watch the temporary challenge Ingresses come and go.
    const { routes, gone } = await watchChallengeRoutes(Ingresses);
    await client.create(Certificates, {
      metadata: { name: 'site', namespace: ns },
      spec: {
        secretName: 'site-tls',
        issuerRef: { name: 'pebble' },
        dnsNames: ['site.example.test', 'www.site.example.test'],
        privateKey: { algorithm: 'RSA', size: 2048 },
      },
    });
    const cert = await waitForCondition(
      client,
      Certificates,
      { namespace: ns, name: 'site' },
      'Ready',
      { timeoutMs: 30_000 },
    );
    expect(cert.status?.acmeOrder).toBeUndefined();
    const secret = await client.get(Secrets, { namespace: ns, name: 'site-tls' });
    const bundle = secretText(secret, 'tls.crt');
    expect(chainVerifies(bundle, await pebble.rootCertificate())).toBe(true);
    const info = inspectCertificate(bundle);
    expect(info.dnsNames.sort()).toEqual(['site.example.test', 'www.site.example.test']);
    expect(info.keyAlgorithm).toEqual({ algorithm: 'RSA', size: 2048 });

    expect(routes.map((r) => r.spec?.rules?.[0]?.host).sort()).toEqual([
      'site.example.test',
      'www.site.example.test',
    ]);
    const path = routes[0]?.spec?.rules?.[0]?.http?.paths?.[0];
    expect(path?.pathType).toBe('Exact');
    expect(path?.path).toMatch(/^\/\.well-known\/acme-challenge\/[\w-]+$/);
    expect(path?.backend.service).toEqual({ name: 'cert-operator-solver', port: { number: 8089 } });
    // Each challenge was fetched as Pebble would before Pebble was asked to.
    const served = logs.filter((l) => l.includes('"HTTP-01 challenge served"')).join('');
    for (const name of ['site.example.test', 'www.site.example.test']) {
      expect(served).toContain(`"url":"http://${name}:`);
    }
    await gone();
  });

  it('tells in the status what an order waits for, and stops the order when its Certificate is deleted', async () => {
    const { routes, gone } = await watchChallengeRoutes(Ingresses);
    // team.example.test is a zone of its own, without the wildcard: the name never resolves.
    const name = 'waiting.team.example.test';
    const key = { namespace: ns, name: 'waiting' };
    await client.create(Certificates, {
      metadata: key,
      spec: { secretName: 'waiting-tls', issuerRef: { name: 'pebble' }, dnsNames: [name] },
    });
    const issuing = (c: { status?: { conditions?: { type: string; message?: string }[] } }) =>
      c.status?.conditions?.find((x) => x.type === 'Issuing')?.message ?? '';
    const waiting = await waitForCondition(client, Certificates, key, 'Issuing', {
      timeoutMs: 20_000,
      where: (c) => issuing(c).includes(`DNS NXDOMAIN for ${name}`),
    });
    expect(issuing(waiting)).toMatch(/^HTTP-01 self-check: /);
    expect(waiting.status?.acmeOrder?.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/my-order\//);
    expect(waiting.status?.nextPrivateKeySecretName).toBe('waiting-next-key');
    expect(routes.length).toBe(1);

    // Deleted while it waits: the order stops, its challenge Ingress goes, and so do the
    // Certificate (its finalizer off) and the next key's Secret.
    await client.delete(Certificates, key);
    await gone();
    await waitFor(async () => !(await client.get(Certificates, key).catch(() => undefined)), {
      timeoutMs: 10_000,
    });
    const secrets = (await client.list(Secrets, { namespace: ns })).map((s) => s.metadata?.name);
    expect(secrets).not.toContain('waiting-next-key');
    expect(secrets).not.toContain('waiting-tls');
  });

  it('stops an order that waits when its Certificate is edited, and issues the new spec at once', async () => {
    const key = { namespace: ns, name: 'edited' };
    await client.create(Certificates, {
      metadata: key,
      spec: {
        secretName: 'edited-tls',
        issuerRef: { name: 'pebble' },
        dnsNames: ['edited.team.example.test'],
      },
    });
    await waitForCondition(client, Certificates, key, 'Issuing', {
      timeoutMs: 20_000,
      where: (c) =>
        !!c.status?.conditions?.some(
          (x) => x.type === 'Issuing' && x.message?.includes('NXDOMAIN'),
        ),
    });
    // The self-check would wait 2 minutes for the old name; the new one is issued now.
    await client.patch(Certificates, key, {
      type: 'merge',
      patch: { spec: { dnsNames: ['edited.example.test'] } },
    });
    await waitForCondition(client, Certificates, key, 'Ready', { timeoutMs: 20_000 });
    const secret = await client.get(Secrets, { namespace: ns, name: 'edited-tls' });
    expect(inspectCertificate(secretText(secret, 'tls.crt')).dnsNames).toEqual([
      'edited.example.test',
    ]);
  });

  it('issues over HTTP-01 through a temporary HTTPRoute (gatewayHTTPRoute): its parents and labels, the Exact path to the solver Service, removed after', async () => {
    await pebbleIssuer(client, pebble, ns, 'pebble-gateway', [
      {
        http01: {
          gatewayHTTPRoute: {
            parentRefs: [{ name: 'edge', namespace: 'gateways', sectionName: 'http' }],
            labels: { team: 'web' },
          },
        },
      },
    ]);
    const { routes, gone } = await watchChallengeRoutes(HTTPRoutes);
    await client.create(Certificates, {
      metadata: { name: 'gateway-site', namespace: ns },
      spec: {
        secretName: 'gateway-site-tls',
        issuerRef: { name: 'pebble-gateway' },
        dnsNames: ['gw.example.test'],
      },
    });
    await waitForCondition(client, Certificates, { namespace: ns, name: 'gateway-site' }, 'Ready', {
      timeoutMs: 30_000,
    });
    const secret = await client.get(Secrets, { namespace: ns, name: 'gateway-site-tls' });
    expect(chainVerifies(secretText(secret, 'tls.crt'), await pebble.rootCertificate())).toBe(true);

    expect(routes).toHaveLength(1);
    const route = routes[0]!;
    expect(route.metadata?.labels).toEqual({ team: 'web', [LABEL_HTTP01]: 'true' });
    expect(route.spec?.parentRefs).toEqual([
      expect.objectContaining({ name: 'edge', namespace: 'gateways', sectionName: 'http' }),
    ]);
    expect(route.spec?.hostnames).toEqual(['gw.example.test']);
    const rule = route.spec?.rules?.[0];
    expect(rule?.matches).toEqual([
      {
        path: {
          type: 'Exact',
          value: expect.stringMatching(/^\/\.well-known\/acme-challenge\/[\w-]+$/),
        },
      },
    ]);
    expect(rule?.backendRefs).toEqual([
      expect.objectContaining({ name: 'cert-operator-solver', port: 8089 }),
    ]);
    // No Ingress for it: the route replaced it.
    expect(await client.list(Ingresses, { namespace: ns, labelSelector: LABEL_HTTP01 })).toEqual(
      [],
    );
    await gone();
  });

  it('issues a wildcard over DNS-01 through RFC2136 with TSIG, and removes the challenge record', async () => {
    await client.create(Secrets, {
      metadata: { name: 'tsig', namespace: ns },
      stringData: { secret: bind.tsig.secret },
    });
    await client.create(Issuers, {
      metadata: { name: 'pebble-dns', namespace: ns },
      spec: {
        acme: {
          server: pebble.directoryUrl,
          privateKeySecretRef: { name: 'pebble-dns-account' },
          caBundle: Buffer.from(pebble.tlsCaPem).toString('base64'),
          solvers: [
            {
              selector: { dnsZones: ['example.test'] },
              dns01: {
                rfc2136: {
                  nameserver: bind.address,
                  tsigKeyName: bind.tsig.name,
                  tsigAlgorithm: 'HMACSHA256',
                  tsigSecretSecretRef: { name: 'tsig', key: 'secret' },
                },
              },
            },
          ],
        },
      },
    });
    await client.create(Certificates, {
      metadata: { name: 'wild', namespace: ns },
      spec: {
        secretName: 'wild-tls',
        issuerRef: { name: 'pebble-dns' },
        dnsNames: ['wild.example.test', '*.wild.example.test'],
      },
    });
    await waitForCondition(client, Certificates, { namespace: ns, name: 'wild' }, 'Ready', {
      timeoutMs: 30_000,
    });
    const secret = await client.get(Secrets, { namespace: ns, name: 'wild-tls' });
    expect(chainVerifies(secretText(secret, 'tls.crt'), await pebble.rootCertificate())).toBe(true);
    expect(inspectCertificate(secretText(secret, 'tls.crt')).dnsNames.sort()).toEqual([
      '*.wild.example.test',
      'wild.example.test',
    ]);
    expect(await bind.dig('_acme-challenge.wild.example.test', 'TXT')).toEqual([]);
  });

  it('issues over DNS-01 through RFC2136 without dnsZones, each record in the zone BIND9 has an SOA for', async () => {
    await client.create(Issuers, {
      metadata: { name: 'pebble-soa', namespace: ns },
      spec: {
        acme: {
          server: pebble.directoryUrl,
          privateKeySecretRef: { name: 'pebble-soa-account' },
          caBundle: Buffer.from(pebble.tlsCaPem).toString('base64'),
          solvers: [
            {
              dns01: {
                rfc2136: {
                  nameserver: bind.address,
                  tsigKeyName: bind.tsig.name,
                  // Unset, it would be HMACMD5, cert-manager's default; this server's is SHA-256.
                  tsigAlgorithm: 'HMACSHA256',
                  tsigSecretSecretRef: { name: 'tsig' },
                },
              },
            },
          ],
        },
      },
    });
    const names = ['soa.example.test', 'team.example.test', '*.team.example.test'];
    await client.create(Certificates, {
      metadata: { name: 'soa', namespace: ns },
      spec: { secretName: 'soa-tls', issuerRef: { name: 'pebble-soa' }, dnsNames: names },
    });
    await waitForCondition(client, Certificates, { namespace: ns, name: 'soa' }, 'Ready', {
      timeoutMs: 30_000,
    });
    const secret = await client.get(Secrets, { namespace: ns, name: 'soa-tls' });
    expect(chainVerifies(secretText(secret, 'tls.crt'), await pebble.rootCertificate())).toBe(true);
    expect(inspectCertificate(secretText(secret, 'tls.crt')).dnsNames.sort()).toEqual(
      [...names].sort(),
    );
    // A record under team.example.test written to example.test would be hidden by the inner
    // zone: Pebble would not see it.
    const records = ['_acme-challenge.soa.example.test', '_acme-challenge.team.example.test'];
    const written = logs
      .map((line) => JSON.parse(line) as { msg?: string; record?: string; zone?: string })
      .filter((l) => l.msg === 'challenge TXT value added' && records.includes(l.record ?? ''))
      .map((l) => `${l.record} in ${l.zone}`);
    expect([...new Set(written)].sort()).toEqual([
      '_acme-challenge.soa.example.test in example.test',
      '_acme-challenge.team.example.test in team.example.test',
    ]);
    for (const record of records) expect(await bind.dig(record, 'TXT')).toEqual([]);
  });

  it('fails a name in no zone BIND9 serves, naming the record and the server', async () => {
    await client.create(Certificates, {
      metadata: { name: 'nowhere', namespace: ns },
      spec: {
        secretName: 'nowhere-tls',
        issuerRef: { name: 'pebble-soa' },
        dnsNames: ['www.nowhere.test'],
      },
    });
    const ready = await waitFor(
      async () => {
        const cert = await client.get(Certificates, { namespace: ns, name: 'nowhere' });
        return cert.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'False');
      },
      { timeoutMs: 30_000 },
    );
    expect(ready).toMatchObject({
      reason: 'DNSZoneLookupFailed',
      message: `finding the zone of _acme-challenge.www.nowhere.test: the SOA query for _acme-challenge.www.nowhere.test to ${bind.address} failed: EREFUSED (does it serve a zone holding the name?)`,
    });
    // It would keep trying (and ordering) through the tests below.
    await client.delete(Certificates, { namespace: ns, name: 'nowhere' });
  });

  it('backs off while the ACME server is down, then issues once it is back', async () => {
    await pebble.stopServer();
    await client.create(Certificates, {
      metadata: { name: 'outage', namespace: ns },
      spec: {
        secretName: 'outage-tls',
        issuerRef: { name: 'pebble' },
        dnsNames: ['outage.example.test'],
      },
    });
    const failed = await waitFor(
      async () => {
        const c = await client.get(Certificates, { namespace: ns, name: 'outage' });
        return (c.status?.failedIssuanceAttempts ?? 0) >= 1 && c;
      },
      { timeoutMs: 30_000 },
    );
    expect(failed.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
    });
    await pebble.startServer();
    // Pebble forgets every account on restart: the issuer registers again by itself.
    await waitForCondition(client, Certificates, { namespace: ns, name: 'outage' }, 'Ready', {
      timeoutMs: 40_000,
    });
    const secret = await client.get(Secrets, { namespace: ns, name: 'outage-tls' });
    expect(chainVerifies(secretText(secret, 'tls.crt'), await pebble.rootCertificate())).toBe(true);
  }, 90_000);

  it('renews a certificate the CA revoked, as its renewal information asks', async () => {
    const account = await pebbleIssuer(client, pebble, ns, 'ari');
    await client.create(Certificates, {
      metadata: { name: 'ari', namespace: ns },
      spec: { secretName: 'ari-tls', issuerRef: { name: 'ari' }, dnsNames: ['ari.example.test'] },
    });
    const first = await waitForCondition(
      client,
      Certificates,
      { namespace: ns, name: 'ari' },
      'Ready',
      {
        timeoutMs: 30_000,
      },
    );
    const revoked = secretText(
      await client.get(Secrets, { namespace: ns, name: 'ari-tls' }),
      'tls.crt',
    );
    // Pebble's window for it, or two thirds of the lifetime when that comes first: most of a
    // lifetime away, and written once (the reconcile after the issuance agrees with it).
    const info = inspectCertificate(
      secretText(await client.get(Secrets, { namespace: ns, name: 'ari-tls' }), 'tls.crt'),
    );
    const renewAt = new Date(first.status!.renewalTime!).getTime();
    expect(renewAt).toBeGreaterThan(Date.now() + 86_400_000);
    expect(renewAt).toBeLessThanOrEqual(
      renewalTime(first, info.notBefore, info.notAfter).getTime(),
    );
    await new Promise((r) => setTimeout(r, 1500));
    const settled = await client.get(Certificates, { namespace: ns, name: 'ari' });
    expect(settled.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);

    // A revoked certificate's window lies in the past (Pebble, as Let's Encrypt does).
    await account.revokeCertificate(revoked);
    const renewed = await waitFor(
      async () => {
        const pem = secretText(
          await client.get(Secrets, { namespace: ns, name: 'ari-tls' }),
          'tls.crt',
        );
        return pem !== revoked && pem;
      },
      { timeoutMs: 30_000, description: 'a new certificate in place of the revoked one' },
    );
    expect(chainVerifies(renewed, await pebble.rootCertificate())).toBe(true);
    // Ready held all along (the old certificate stayed valid): the renewal's own status is
    // revision 2, written in the reconcile that wrote the Secret.
    const ready = await waitForCondition(
      client,
      Certificates,
      { namespace: ns, name: 'ari' },
      'Ready',
      { where: (c) => c.status?.revision === 2 },
    );
    const { notAfter } = inspectCertificate(renewed);
    expect(ready.status?.notAfter).toBe(notAfter.toISOString().replace(/\.\d{3}Z$/, 'Z'));
    const events = (await client.list(Events, { namespace: ns })).filter(
      (e) => e.regarding?.name === 'ari',
    );
    const suggested = events.find((e) => e.reason === 'RenewalSuggested');
    expect(suggested?.note).toMatch(
      /^the CA suggests renewing between \S+ and \S+, before \S+ \(ACME Renewal Information\); renewing at \S+$/,
    );
    expect(events.some((e) => e.reason === 'Issuing' && e.note?.includes('renewal was due'))).toBe(
      true,
    );
    // The renewal's order names the certificate it replaces (RFC 9773).
    const orders = (await ordersOf(account)) as string[];
    expect(orders).toHaveLength(2);
    const replaces = await Promise.all(
      orders.map(
        async (url) =>
          ((await account.getOrder({ url } as acme.Order)) as { replaces?: string }).replaces,
      ),
    );
    expect(replaces.sort()).toEqual([ariCertId(revoked), undefined]);
  });

  it("finding 8 over ACME: a Secret in the way costs no order, not one per attempt; one of the next key's name costs none and stays", async () => {
    const account = await pebbleIssuer(client, pebble, ns, 'pebble-guard');
    const refused = (name: string, reason: string) =>
      waitForCondition(client, Certificates, { namespace: ns, name }, 'Ready', {
        status: 'False',
        where: (c) => c.status?.conditions?.some((x) => x.reason === reason) ?? false,
        timeoutMs: 30_000,
      });
    const config = await client.create(Secrets, {
      metadata: { name: 'guard-config', namespace: ns },
      stringData: { 'config.yaml': 'a: b' },
    });
    await client.create(Certificates, {
      metadata: { name: 'guard', namespace: ns },
      spec: {
        secretName: 'guard-config',
        issuerRef: { name: 'pebble-guard' },
        dnsNames: ['guard.example.test'],
      },
    });
    await refused('guard', 'SecretTypeMismatch');
    // Read before the first issuance (a Secret there may be taken over as it is): found in
    // the way before any order. With a 1 s backoff, 480f83f ordered again and again.
    await new Promise((r) => setTimeout(r, 3000));
    expect(await ordersOf(account)).toHaveLength(0);
    expect((await client.get(Secrets, { namespace: ns, name: 'guard-config' })).data).toEqual(
      config.data,
    );

    // The key of an order is kept in NAME-next-key: someone else's Secret there stops it.
    const taken = await client.create(Secrets, {
      metadata: { name: 'keyed-next-key', namespace: ns },
      stringData: { notes: 'not a key' },
    });
    await client.create(Certificates, {
      metadata: { name: 'keyed', namespace: ns },
      spec: {
        secretName: 'keyed-tls',
        issuerRef: { name: 'pebble-guard' },
        dnsNames: ['keyed.example.test'],
      },
    });
    const keyed = await refused('keyed', 'SecretNotOwned');
    expect(keyed.status?.conditions?.find((c) => c.type === 'Ready')?.message).toBe(
      "Secret keyed-next-key, where an ACME issuance keeps its key, exists and is not this operator's; delete or rename it",
    );
    expect(await ordersOf(account)).toHaveLength(0);
    await client.delete(Certificates, { namespace: ns, name: 'keyed' });
    await waitFor(() =>
      client.get(Certificates, { namespace: ns, name: 'keyed' }).then(
        () => false,
        () => true,
      ),
    );
    expect((await client.get(Secrets, { namespace: ns, name: 'keyed-next-key' })).data).toEqual(
      taken.data,
    );
  });

  it('never writes a private key or the TSIG secret to logs, Events or status', async () => {
    const secrets = await client.list(Secrets, { namespace: ns });
    const keys = secrets
      .flatMap((s) =>
        Object.values(s.data ?? {}).map((v) => Buffer.from(v, 'base64').toString('utf8')),
      )
      .filter((v) => v.includes('PRIVATE KEY'))
      .map((pem) => pem.split('\n').filter((l) => l && !l.startsWith('-----'))[1] ?? 'x');
    expect(keys.length).toBeGreaterThanOrEqual(4);
    const events = JSON.stringify(await client.list(Events, { namespace: ns }));
    const statuses = JSON.stringify(
      (await client.list(Certificates, { namespace: ns })).map((c) => c.status),
    );
    const everything = [logs.join(''), events, statuses];
    expect(logs.length).toBeGreaterThan(50);
    for (const text of everything) {
      expect(text).not.toContain('PRIVATE KEY');
      expect(text).not.toContain(bind.tsig.secret);
      for (const line of keys) expect(text).not.toContain(line);
    }
  });
});
