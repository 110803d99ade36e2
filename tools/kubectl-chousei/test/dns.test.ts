import { RFC2136Provider } from '@chousei/dns';
import {
  DNSEndpoints,
  dnsEndpointCRD,
  FINALIZER,
  runOnce,
  setupDnsOperator,
} from '@chousei/dns-operator';
import {
  Client,
  createLogger,
  Events,
  Gateways,
  HTTPRoutes,
  Ingresses,
  Manager,
  Services,
} from '@chousei/runtime';
import { setGatewayAddresses, setRouteParents } from '@chousei/runtime/testing';
import { type Bind9, freePort, installGatewayApi, startBind9 } from '@chousei/testenv';
import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OwnersReport } from '../src/dns/owners.js';
import type { PlanReport } from '../src/dns/plan.js';
import { type Kubectl, pluginKubectl } from './kubectl.js';

const logger = createLogger({ level: process.env.TEST_LOG ?? 'silent' });
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('dns plan and dns owners against BIND9', () => {
  let bind: Bind9;
  let client: Client;
  let ns: string;
  let kubeconfig: string;
  let kubectl: Kubectl;
  let cluster: Awaited<ReturnType<typeof sharedCluster>>;
  /** The operator's flags, as a Deployment would pass them (the TSIG secret by env). */
  let provider: string[];
  let env: Record<string, string>;

  const chousei = (args: string[], extraEnv: Record<string, string> = {}) =>
    kubectl(['chousei', ...args, '--kubeconfig', kubeconfig], extraEnv);
  const json = async <T>(args: string[], runEnv: Record<string, string> = {}): Promise<T> => {
    const r = await chousei([...args, '-o', 'json'], runEnv);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as T;
  };

  /** `dns plan` of the namespace against the in-memory provider's empty zone, as JSON. */
  const inMemoryPlan = (flags: string[]) =>
    json<PlanReport>([
      'dns',
      'plan',
      '--provider',
      'inmemory',
      '--inmemory-zone',
      'example.test',
      ...flags,
      '-n',
      ns,
    ]);

  /** Publishes what the objects ask for, as one `chousei-dns-operator --once` would. */
  const publish = async () => {
    const manager = new Manager({
      kubeConfig: cluster.kubeConfig,
      healthProbePort: false,
      metricsPort: false,
      logger,
    });
    const operator = setupDnsOperator(manager, {
      provider: new RFC2136Provider({
        host: bind.host,
        port: bind.port,
        zones: bind.zones,
        tsig: bind.tsig,
      }),
      sources: ['ingress', 'service', 'dnsendpoint'],
      ownerId: 'plugin',
      namespace: ns,
      finalizers: false,
      logger,
    });
    expect(await runOnce(manager, operator, AbortSignal.timeout(30_000))).toBe(0);
  };

  beforeAll(async () => {
    bind = await startBind9({
      zones: ['example.test'],
      records: { 'example.test': ['legacy 300 IN A 192.0.2.99'] },
    });
    cluster = await sharedCluster();
    await cluster.apply([dnsEndpointCRD]);
    ns = await cluster.createNamespace('plugin-dns');
    client = new Client(cluster.kubeConfig);
    kubeconfig = await cluster.writeKubeconfig(cluster.kubeConfig, `kubeconfig-${ns}`);
    kubectl = await pluginKubectl();
    provider = [
      '--provider',
      'rfc2136',
      '--rfc2136-host',
      bind.host,
      '--rfc2136-port',
      String(bind.port),
      '--rfc2136-zone',
      'example.test',
      '--rfc2136-tsig-keyname',
      bind.tsig.name,
      '-n',
      ns,
    ];
    env = { CHOUSEI_DNS_RFC2136_TSIG_SECRET: bind.tsig.secret, CHOUSEI_DNS_TXT_OWNER_ID: 'plugin' };

    // Oldest first decides who wins a name: one second apart, as creation times are.
    await client.create(Ingresses, {
      metadata: {
        name: 'web',
        namespace: ns,
        annotations: { 'dns.chousei.dev/target': '192.0.2.10' },
      },
      spec: { rules: [{ host: 'web.example.test' }] },
    });
    await pause(1100);
    await client.create(Services, {
      metadata: {
        name: 'lb',
        namespace: ns,
        annotations: {
          'external-dns.alpha.kubernetes.io/hostname': 'web.example.test',
          'dns.chousei.dev/target': '192.0.2.11',
        },
      },
      spec: { type: 'LoadBalancer', ports: [{ port: 443 }] },
    });
    await pause(1100);
    await client.create(DNSEndpoints, {
      metadata: { name: 'alias', namespace: ns },
      spec: {
        endpoints: [
          { dnsName: 'web.example.test', recordType: 'CNAME', targets: ['elsewhere.example.test'] },
          { dnsName: 'api.example.test', recordType: 'A', targets: ['192.0.2.20'] },
        ],
      },
    });
  });
  afterAll(() => bind?.stop());

  it('plans the records and their ownership TXT, and writes nothing anywhere', async () => {
    const r = await chousei(['dns', 'plan', ...provider], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const owner = (resource: string) =>
      `heritage=external-dns,external-dns/owner=plugin,external-dns/resource=${resource}/${ns}`;
    expect(r.stdout.split('\n')).toEqual([
      'Plan of the dns-operator (provider rfc2136, owner id plugin, policy sync); zones: example.test',
      'zone example.test:',
      '  +  create  web.example.test    A    300  192.0.2.10, 192.0.2.11',
      `  +  create  a-web.example.test  TXT  300  ${owner('ingress')}/web`,
      '  +  create  api.example.test    A    300  192.0.2.20',
      `  +  create  a-api.example.test  TXT  300  ${owner('dnsendpoint')}/alias`,
      'Warnings:',
      `  DNSEndpoint ${ns}/alias: Conflict: not published: web.example.test already has A records for ingress/${ns}/web, and a CNAME must be alone at its name`,
      '4 changes: 4 to create, 0 to update, 0 to delete (ownership TXT records included)',
      '',
    ]);

    // Read-only: no record, no finalizer, no Event, no DNSEndpoint status.
    expect(await bind.dig('web.example.test', 'A')).toEqual([]);
    const ingress = await client.get(Ingresses, { namespace: ns, name: 'web' });
    expect(ingress.metadata?.finalizers ?? []).not.toContain(FINALIZER);
    expect(await client.list(Events, { namespace: ns })).toEqual([]);
    expect(
      (await client.get(DNSEndpoints, { namespace: ns, name: 'alias' })).status,
    ).toBeUndefined();

    // The same from the in-memory provider's empty zone, for machines.
    const plan = await inMemoryPlan(['--source', 'ingress']);
    expect(plan).toMatchObject({ provider: 'inmemory', ownerId: 'default', failedNames: 0 });
    expect(plan.changes).toEqual([
      {
        zone: 'example.test',
        action: 'create',
        name: 'web.example.test',
        type: 'A',
        ttl: 300,
        values: ['192.0.2.10'],
      },
      {
        zone: 'example.test',
        action: 'create',
        name: 'a-web.example.test',
        type: 'TXT',
        ttl: 300,
        values: [
          `heritage=external-dns,external-dns/owner=default,external-dns/resource=ingress/${ns}/web`,
        ],
      },
    ]);
  });

  it('names who claims a name and who wins, without a provider', async () => {
    const r = await chousei(['dns', 'owners', 'WEB.example.test.', '-n', ns]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      [
        'DNS name web.example.test',
        'Claimed by (oldest first):',
        `  ingress/${ns}/web        A 192.0.2.10                  publishes: A 192.0.2.10, 192.0.2.11`,
        `  service/${ns}/lb         A 192.0.2.11                  merged: its targets join the A record of ingress/${ns}/web`,
        `  dnsendpoint/${ns}/alias  CNAME elsewhere.example.test  loses: web.example.test already has A records for ingress/${ns}/web, and a CNAME must be alone at its name`,
        'Provider: not read (give --provider and its flags, as the operator has them)',
        '',
      ].join('\n'),
    );
    // The operator's filters apply: with Ingresses only, the Ingress alone claims it.
    const only = await json<OwnersReport>([
      'dns',
      'owners',
      'web.example.test',
      '-n',
      ns,
      '--source',
      'ingress',
    ]);
    expect(only.claims.map((c) => [c.resource, c.outcome])).toEqual([
      [`ingress/${ns}/web`, 'publishes'],
    ]);
  });

  it('names a route claiming a name through the Gateway it is attached to, and plans its record', async () => {
    await installGatewayApi(cluster, 'standard');
    await client.create(Gateways, {
      metadata: { name: 'edge', namespace: ns },
      spec: {
        gatewayClassName: 'test',
        listeners: [{ name: 'web', port: 80, protocol: 'HTTP', hostname: '*.apps.example.test' }],
      },
    });
    await setGatewayAddresses(client, { namespace: ns, name: 'edge' }, ['192.0.2.30']);
    await client.create(HTTPRoutes, {
      metadata: { name: 'shop', namespace: ns },
      spec: { parentRefs: [{ name: 'edge' }], hostnames: ['shop.apps.example.test'] },
    });
    await setRouteParents(client, HTTPRoutes, { namespace: ns, name: 'shop' });
    const sources = ['--source', 'ingress,gateway-httproute'];
    const r = await chousei(['dns', 'owners', 'shop.apps.example.test', '-n', ns, ...sources]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`  httproute/${ns}/shop  A 192.0.2.30  publishes: A 192.0.2.30\n`);
    const plan = await inMemoryPlan(sources);
    expect(plan.changes.filter((c) => c.name === 'shop.apps.example.test')).toEqual([
      expect.objectContaining({ action: 'create', type: 'A', values: ['192.0.2.30'] }),
    ]);
    await client.delete(HTTPRoutes, { namespace: ns, name: 'shop' });
  });

  it('names a claim from another namespace refused, with the namespace that holds the name', async () => {
    const other = await cluster.createNamespace('plugin-dns-other');
    await client.create(Ingresses, {
      metadata: {
        name: 'web',
        namespace: other,
        annotations: { 'dns.chousei.dev/target': '203.0.113.66' },
      },
      spec: { rules: [{ host: 'web.example.test' }] },
    });
    // Every namespace, as an operator without --namespace sees them.
    const all = await json<OwnersReport>(['dns', 'owners', 'web.example.test']);
    expect(all.claims.map((c) => [c.resource, c.outcome, c.detail])).toEqual([
      [`ingress/${ns}/web`, 'publishes', 'A 192.0.2.10, 192.0.2.11'],
      [`service/${ns}/lb`, 'merged', `its targets join the A record of ingress/${ns}/web`],
      [
        `dnsendpoint/${ns}/alias`,
        'loses',
        `web.example.test already has A records for ingress/${ns}/web, and a CNAME must be alone at its name`,
      ],
      [
        `ingress/${other}/web`,
        'refused',
        `NameTaken: web.example.test is held by namespace ${ns} (ingress/${ns}/web): a name claimed from one namespace is not published for another`,
      ],
    ]);
    await client.delete(Ingresses, { namespace: other, name: 'web' });
  });

  it('shows an unchanged zone after publishing, then the update a change would make', async () => {
    await publish();
    expect((await bind.dig('web.example.test', 'A')).sort()).toEqual(['192.0.2.10', '192.0.2.11']);
    const none = await chousei(['dns', 'plan', ...provider], env);
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/\nNo changes: the zones already match the cluster\.\n$/);
    expect(none.stdout).not.toContain('zone example.test:');

    await client.patch(
      Ingresses,
      { namespace: ns, name: 'web' },
      {
        type: 'merge',
        patch: { metadata: { annotations: { 'dns.chousei.dev/target': '192.0.2.12' } } },
      },
    );
    const update = await chousei(['dns', 'plan', ...provider], env);
    expect(update.stdout).toContain(
      'zone example.test:\n  ~  update  web.example.test  A  300  192.0.2.10, 192.0.2.11 -> 192.0.2.11, 192.0.2.12\n',
    );
    expect(update.stdout).toContain('1 change: 0 to create, 1 to update, 0 to delete');
    // A plan with another owner id may not touch our records: it says so.
    const stranger = await json<PlanReport>(['dns', 'plan', ...provider], {
      ...env,
      CHOUSEI_DNS_TXT_OWNER_ID: 'stranger',
    });
    expect(stranger.changes.filter((c) => c.name === 'web.example.test')).toEqual([]);
    expect(stranger.warnings).toContainEqual({
      object: `Ingress ${ns}/web`,
      reason: 'Conflict',
      message: expect.stringContaining('plugin'),
    });
  });

  it("lists the deletes of a source left out, and warns that the operator's first sync would hold them", async () => {
    const plan = await json<PlanReport>(['dns', 'plan', ...provider, '--source', 'ingress'], env);
    expect(plan.changes).toContainEqual(
      expect.objectContaining({ action: 'delete', name: 'api.example.test', type: 'A' }),
    );
    expect(plan.warnings).toContainEqual({
      object: 'ConfigMap chousei-dns-operator-first-sync',
      reason: 'DeletesHeld',
      message: expect.stringContaining(
        'first sync of zone example.test under these settings: deletes of 1 of the 2 records owned there (over --first-sync-delete-limit 10%) would be held by the operator',
      ),
    });
  });

  it('names the owner id the ownership TXT records hold, with the provider flags', async () => {
    const r = await chousei(['dns', 'owners', 'web.example.test', ...provider], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `Provider rfc2136, zone example.test (our owner id: plugin):\n  A  300  192.0.2.10, 192.0.2.11  owner plugin (ours), resource ingress/${ns}/web, TXT a-web.example.test\n`,
    );
    const stranger = await json<OwnersReport>(['dns', 'owners', 'web.example.test', ...provider], {
      ...env,
      CHOUSEI_DNS_TXT_OWNER_ID: 'stranger',
    });
    expect(stranger.provider).toEqual({
      name: 'rfc2136',
      ownerId: 'stranger',
      zone: 'example.test',
      records: [
        {
          type: 'A',
          ttl: 300,
          values: ['192.0.2.10', '192.0.2.11'],
          owner: 'plugin',
          resource: `ingress/${ns}/web`,
          txt: 'a-web.example.test',
          ours: false,
        },
      ],
    });
    const legacy = await chousei(['dns', 'owners', 'legacy.example.test', ...provider], env);
    expect(legacy.stdout).toContain('Claimed by: no object');
    expect(legacy.stdout).toContain(
      '  A  300  192.0.2.99  no ownership record: not managed by any owner\n',
    );
    const outside = await chousei(['dns', 'owners', 'www.example.org', ...provider], env);
    expect(outside.stdout).toContain(
      'Provider rfc2136: www.example.org is outside every managed zone\n',
    );
  });

  it('fails at once, naming what cannot be read: the provider, or a kind the user may not list', async () => {
    const down = [...provider];
    down[down.indexOf('--rfc2136-port') + 1] = String(await freePort());
    const r = await chousei(['dns', 'plan', ...down], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    // One line; the operator's own log lines only when asked for.
    expect(r.stderr).toMatch(
      /^error: no plan: AXFR of example\.test: DNS server unreachable: [^\n]*\n$/,
    );
    const logged = await chousei(['dns', 'plan', ...down, '--log-level', 'warn'], env);
    expect(logged.stderr).toContain('"msg":"DNS request failed, retrying"');

    const nobody = await cluster.writeKubeconfig(
      await cluster.userKubeConfig('nobody'),
      `kubeconfig-nobody-${ns}`,
    );
    const denied = await kubectl(
      ['chousei', 'dns', 'plan', ...provider, '--kubeconfig', nobody],
      env,
    );
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(
      /^error: listing ingresses: ingresses\.networking\.k8s\.io is forbidden: User "nobody" cannot list/,
    );
  });

  it('fails like the operator on bad flags', async () => {
    const r = await chousei(['dns', 'plan', '-n', ns]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'error: kubectl chousei dns plan: --provider (CHOUSEI_DNS_PROVIDER) must be one of route53, rfc2136, pdns, webhook, inmemory; got ""\n',
    );
    const half = await chousei([
      'dns',
      'owners',
      'web.example.test',
      '--rfc2136-tsig-keyname',
      'k',
    ]);
    expect(half.code).toBe(2);
    expect(half.stderr).toContain(
      '--rfc2136-tsig-keyname (CHOUSEI_DNS_RFC2136_TSIG_KEYNAME) and --rfc2136-tsig-secret',
    );
    const noName = await chousei(['dns', 'owners']);
    expect(noName.stderr).toContain('expects 1 operand (NAME), got 0');
  });
});
