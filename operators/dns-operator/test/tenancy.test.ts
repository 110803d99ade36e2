// Who may claim which names, with the operator serving every namespace as installed. Each
// operator here sees only objects labelled for it, so other files' objects (in parallel, on
// the shared API server) stay out; DomainPolicies are cluster-wide, and only operators that
// serve every namespace read them, as only this file's do.
import { randomBytes } from 'node:crypto';
import { DomainPolicies, type DomainPolicy, domainPolicyCRD, InMemoryProvider } from '@chousei/dns';
import { Client, Events, HTTPRoutes, Ingresses, Namespaces } from '@chousei/runtime';
import { type RunningManager, waitFor } from '@chousei/runtime/testing';
import { installGatewayApi } from '@chousei/testenv';
import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DNSEndpoints, dnsEndpointCRD } from '../src/api/dnsendpoint.js';
import type { DnsOperatorOptions } from '../src/operator.js';
import { GatewayApi, http, watchForGap } from './gateway-api.js';
import { startDnsOperator } from './operator.js';

const ZONE = 'tenancy.test';

describe('dns-operator: who may claim which names', () => {
  let client: Client;
  let demo: string;
  let evil: string;
  const suite = randomBytes(4).toString('hex');
  const provider = new InMemoryProvider([ZONE]);
  const zone = { id: ZONE, name: ZONE };
  const running: RunningManager[] = [];
  const policies: string[] = [];
  let gateways: GatewayApi;
  const routeSources: Partial<DnsOperatorOptions> = {
    sources: ['ingress', 'gateway-httproute'],
    gatewayListenerSets: true,
  };
  const labelNamespace = (namespace: string, labels: Record<string, string>) =>
    client.patch(
      Namespaces,
      { name: namespace },
      { type: 'merge', patch: { metadata: { labels } } },
    );

  const valuesOf = async (name: string, type = 'A') =>
    (await provider.records(zone)).find((r) => r.name === name && r.type === type)?.values.sort() ??
    [];

  /** An operator serving every namespace, seeing only objects labelled `group`. */
  const start = async (group = 'refuse', opts: Partial<DnsOperatorOptions> = {}) => {
    const r = await startDnsOperator(
      {
        provider,
        sources: ['ingress', 'dnsendpoint'],
        ownerId: 'tenancy',
        labelFilter: `chousei.test/suite=${suite}-${group}`,
        // The groups share the zone and owner id, so each start finds records of objects it
        // does not see, left by the tests before, to delete: over the first-sync guard's
        // limit (first-sync.test.ts tests it), which would hold this test's deletes too.
        firstSync: { deleteLimit: 1 },
        ...opts,
      },
      { timeoutMs: 20_000 },
    );
    running.push(r);
    return r;
  };
  const stopAll = async () => {
    for (const r of running.splice(0)) await r.stop();
  };

  const ingress = async (
    namespace: string,
    name: string,
    hosts: string[],
    ip: string,
    opts: { group?: string; annotations?: Record<string, string> } = {},
  ) => {
    await client.create(Ingresses, {
      metadata: {
        name,
        namespace,
        labels: { 'chousei.test/suite': `${suite}-${opts.group ?? 'refuse'}` },
        ...(opts.annotations ? { annotations: opts.annotations } : {}),
      },
      spec: { rules: hosts.map((host) => ({ host })) },
    });
    await client.patchStatus(
      Ingresses,
      { namespace, name },
      { type: 'merge', patch: { status: { loadBalancer: { ingress: [{ ip }] } } } },
    );
  };

  /** Warning Events of one object, as `REASON: note`. */
  const warnings = async (
    obj: { namespace: string; name: string; kind?: string },
    reason?: string,
  ) =>
    (await client.list(Events, { namespace: obj.namespace }))
      .filter(
        (e) =>
          e.regarding?.name === obj.name &&
          (!obj.kind || e.regarding.kind === obj.kind) &&
          e.type === 'Warning' &&
          (!reason || e.reason === reason),
      )
      .map((e) => `${e.reason}: ${e.note}`);

  const policy = async (name: string, spec: DomainPolicy['spec']) => {
    const full = `${name}-${suite}`;
    policies.push(full);
    await client.create(DomainPolicies, { metadata: { name: full }, spec });
    return full;
  };

  beforeAll(async () => {
    const cluster = await sharedCluster();
    await cluster.apply([dnsEndpointCRD, domainPolicyCRD]);
    await installGatewayApi(cluster, 'standard');
    demo = await cluster.createNamespace('demo');
    evil = await cluster.createNamespace('evil');
    client = new Client(cluster.kubeConfig);
    gateways = new GatewayApi(client, demo, { 'chousei.test/suite': `${suite}-refuse` });
  });
  afterEach(async () => {
    await stopAll();
    for (const name of policies.splice(0)) await client.delete(DomainPolicies, { name });
  });
  afterAll(stopAll);

  it('the API server takes a DomainPolicy as documented and refuses a malformed one, naming the field', async () => {
    const check = (spec: unknown) =>
      client.create(
        DomainPolicies,
        { metadata: { name: `check-${suite}` }, spec } as DomainPolicy,
        { dryRun: 'All' },
      );
    await check({
      namespaces: ['team-a'],
      namespaceSelector: { matchExpressions: [{ key: 'tier', operator: 'Exists' }] },
      domains: [
        { suffix: 'a.example.com', wildcards: true, apex: true },
        { suffix: '_x.example.org' },
      ],
    });
    const refusals: Array<[unknown, RegExp]> = [
      [{ domains: [{ suffix: 'example.com' }] }, /namespaces or namespaceSelector/],
      [{ namespaces: ['a'], domains: [] }, /spec\.domains: Invalid value: 0/],
      [{ namespaces: ['a'], domains: [{ suffix: 'Example.com' }] }, /spec\.domains\[0\]\.suffix/],
      [{ namespaces: ['a'], domains: [{ suffix: '*.example.com' }] }, /spec\.domains\[0\]\.suffix/],
      [{ namespaces: ['a'], domains: [{ suffix: 'example.com.' }] }, /spec\.domains\[0\]\.suffix/],
      [
        { namespaces: ['a'], domains: [{ suffix: 'example.com' }, { suffix: 'example.com' }] },
        /spec\.domains\[1\]: Duplicate value/,
      ],
      [
        {
          namespaceSelector: { matchExpressions: [{ key: 'tier', operator: 'In' }] },
          domains: [{ suffix: 'example.com' }],
        },
        /values must be set for In and NotIn/,
      ],
    ];
    for (const [spec, message] of refusals) {
      await expect(check(spec), JSON.stringify(spec)).rejects.toThrow(message);
    }
  });

  it('finding 2: an Ingress in another namespace never merges into a published name; it gets a Warning Event naming the holder', async () => {
    await start();
    await ingress(demo, 'web', ['web.tenancy.test'], '192.0.2.10');
    await waitFor(async () => (await valuesOf('web.tenancy.test')).join() === '192.0.2.10');

    await ingress(evil, 'web', ['web.tenancy.test'], '203.0.113.66');
    await client.create(DNSEndpoints, {
      metadata: {
        name: 'web',
        namespace: evil,
        labels: { 'chousei.test/suite': `${suite}-refuse` },
      },
      spec: {
        endpoints: [{ dnsName: 'web.tenancy.test', recordType: 'A', targets: ['203.0.113.67'] }],
      },
    });
    // Either the refusal, or (as before the fix) the attacker's address in the record.
    await waitFor(
      async () =>
        (await warnings({ namespace: evil, name: 'web' }, 'NameTaken')).length > 0 ||
        (await valuesOf('web.tenancy.test')).length > 1,
      { timeoutMs: 15_000, description: "the attacker's claim handled" },
    );
    expect(await valuesOf('web.tenancy.test')).toEqual(['192.0.2.10']);
    const refused = await warnings({ namespace: evil, name: 'web' }, 'NameTaken');
    expect(refused.join('\n')).toContain(
      `not published: web.tenancy.test is held by namespace ${demo} (ingress/${demo}/web)`,
    );
    const status = await waitFor(async () => {
      const de = await client.get(DNSEndpoints, { namespace: evil, name: 'web' });
      return de.status?.endpoints?.[0]?.reason === 'NameTaken' && de.status.endpoints[0];
    });
    expect(status).toMatchObject({ published: false });
    expect(status.message).toContain(`held by namespace ${demo}`);
    // The victim hears of no conflict: it keeps its name.
    expect(await warnings({ namespace: demo, name: 'web' })).toEqual([]);

    // Claims from one namespace still merge.
    await ingress(demo, 'web-2', ['web.tenancy.test'], '192.0.2.11');
    await waitFor(
      async () => (await valuesOf('web.tenancy.test')).join() === '192.0.2.10,192.0.2.11',
    );
    // The holder's last claim gone, the name goes to the next namespace.
    await client.delete(Ingresses, { namespace: demo, name: 'web' });
    await client.delete(Ingresses, { namespace: demo, name: 'web-2' });
    await waitFor(
      async () => (await valuesOf('web.tenancy.test')).join() === '203.0.113.66,203.0.113.67',
      { timeoutMs: 15_000 },
    );
  });

  it('finding 2: a hostname annotation "*.zone,zone" publishes both while no policy exists, and is refused naming the rule once one does', async () => {
    await start();
    await ingress(evil, 'grab', ['shop.tenancy.test'], '203.0.113.1', {
      annotations: { 'external-dns.alpha.kubernetes.io/hostname': `*.${ZONE},${ZONE}` },
    });
    // No policy: wildcards and apexes, as external-dns users expect.
    await waitFor(async () => (await valuesOf(`*.${ZONE}`)).join() === '203.0.113.1');
    await waitFor(async () => (await valuesOf(ZONE)).join() === '203.0.113.1');

    const name = await policy('tenants', {
      namespaces: [evil, demo],
      domains: [{ suffix: ZONE }],
    });
    // The policy's arrival looks at the names again: no resync needed.
    await waitFor(async () => (await valuesOf(`*.${ZONE}`)).length === 0, {
      timeoutMs: 15_000,
      description: 'the wildcard record removed',
    });
    await waitFor(async () => (await valuesOf(ZONE)).length === 0);
    expect(await valuesOf('shop.tenancy.test')).toEqual(['203.0.113.1']);
    const notes = await waitFor(async () => {
      const w = await warnings({ namespace: evil, name: 'grab' }, 'DomainNotAllowed');
      return w.length >= 2 && w.join('\n');
    });
    expect(notes).toContain(
      `DomainNotAllowed: not published: *.${ZONE}: DomainPolicy ${name} domains[0] (${ZONE}) does not allow wildcard names (wildcards: false)`,
    );
    expect(notes).toContain(
      `DomainNotAllowed: not published: ${ZONE}: DomainPolicy ${name} domains[0] (${ZONE}) does not allow the suffix itself (apex: false)`,
    );

    // Named by the policy, they are allowed again.
    await client.patch(
      DomainPolicies,
      { name },
      {
        type: 'merge',
        patch: { spec: { domains: [{ suffix: ZONE, wildcards: true, apex: true }] } },
      },
    );
    await waitFor(async () => (await valuesOf(`*.${ZONE}`)).join() === '203.0.113.1', {
      timeoutMs: 15_000,
    });
    await waitFor(async () => (await valuesOf(ZONE)).join() === '203.0.113.1');
  });

  it('confines namespaces to their suffixes, chosen by label, and looks again when labels or policies change', async () => {
    const team = await (await sharedCluster()).createNamespace('team');
    const label = (tenant: string) =>
      client.patch(
        Namespaces,
        { name: team },
        { type: 'merge', patch: { metadata: { labels: { [`tenant-${suite}`]: tenant } } } },
      );
    await label('a');
    await start();
    const name = await policy('team-a', {
      namespaceSelector: { matchLabels: { [`tenant-${suite}`]: 'a' } },
      domains: [{ suffix: `a.${ZONE}` }],
    });
    await ingress(team, 'app', [`app.a.${ZONE}`, `app.b.${ZONE}`, `evil-a.${ZONE}`], '192.0.2.50');
    await waitFor(async () => (await valuesOf(`app.a.${ZONE}`)).join() === '192.0.2.50');
    const refused = await waitFor(async () => {
      const w = await warnings({ namespace: team, name: 'app' }, 'DomainNotAllowed');
      return w.length >= 2 && w.join('\n');
    });
    expect(refused).toContain(
      `not published: app.b.${ZONE} is under none of the suffixes of the DomainPolicies selecting namespace ${team}: ${name} (a.${ZONE})`,
    );
    // A suffix is matched by whole labels.
    expect(refused).toContain(`not published: evil-a.${ZONE} is under none of the suffixes`);
    expect(await valuesOf(`app.b.${ZONE}`)).toEqual([]);
    expect(await valuesOf(`evil-a.${ZONE}`)).toEqual([]);

    // The namespace leaves the selector: its record goes, without a resync.
    await label('b');
    await waitFor(async () => (await valuesOf(`app.a.${ZONE}`)).length === 0, {
      timeoutMs: 15_000,
      description: 'the record removed after the label change',
    });
    expect((await warnings({ namespace: team, name: 'app' }, 'DomainNotAllowed')).join()).toContain(
      `app.a.${ZONE}: no DomainPolicy selects namespace ${team}`,
    );
    // A second policy for tenant b gives it b's suffix.
    await policy('team-b', {
      namespaceSelector: {
        matchExpressions: [{ key: `tenant-${suite}`, operator: 'In', values: ['b'] }],
      },
      domains: [{ suffix: `b.${ZONE}` }],
    });
    await waitFor(async () => (await valuesOf(`app.b.${ZONE}`)).join() === '192.0.2.50', {
      timeoutMs: 15_000,
    });
    expect(await valuesOf(`app.a.${ZONE}`)).toEqual([]);
  });

  it('keeps a name with the namespace that holds it across a restart, whatever the ages', async () => {
    // The older object claims the name only after the newer one published it.
    await ingress(evil, 'old', [`elsewhere.${ZONE}`], '203.0.113.9');
    await new Promise((r) => setTimeout(r, 1100));
    await ingress(demo, 'new', [`sticky.${ZONE}`], '192.0.2.70');
    await start();
    await waitFor(async () => (await valuesOf(`sticky.${ZONE}`)).join() === '192.0.2.70');
    await stopAll();

    await client.patch(
      Ingresses,
      { namespace: evil, name: 'old' },
      { type: 'merge', patch: { spec: { rules: [{ host: `sticky.${ZONE}` }] } } },
    );
    await start();
    await waitFor(
      async () => (await warnings({ namespace: evil, name: 'old' }, 'NameTaken')).length,
      {
        timeoutMs: 15_000,
      },
    );
    expect(await valuesOf(`sticky.${ZONE}`)).toEqual(['192.0.2.70']);
    expect((await warnings({ namespace: evil, name: 'old' }, 'NameTaken')).join()).toContain(
      `held by namespace ${demo} (ingress/${demo}/new)`,
    );
  });

  it('merges claims from every namespace with --cross-namespace-claims merge, as external-dns does', async () => {
    await start('merge', { crossNamespaceClaims: 'merge' });
    await ingress(demo, 'shared', [`merged.${ZONE}`], '192.0.2.80', { group: 'merge' });
    await ingress(evil, 'shared', [`merged.${ZONE}`], '203.0.113.80', { group: 'merge' });
    await waitFor(
      async () => (await valuesOf(`merged.${ZONE}`)).join() === '192.0.2.80,203.0.113.80',
    );
    // Policies still apply.
    await policy('demo-only', { namespaces: [demo], domains: [{ suffix: ZONE }] });
    await waitFor(async () => (await valuesOf(`merged.${ZONE}`)).join() === '192.0.2.80', {
      timeoutMs: 15_000,
    });
  });

  it('Gateway routes across namespaces: allowedRoutes Same, All and Selector say which attach, and a namespace label change looks again', async () => {
    await start('refuse', routeSources);
    await gateways.gateway(
      'edge',
      [
        http('same', `*.same.${ZONE}`),
        { ...http('all', `*.all.${ZONE}`), allowedRoutes: { namespaces: { from: 'All' } } },
        {
          ...http('sel', `*.sel.${ZONE}`),
          allowedRoutes: {
            namespaces: {
              from: 'Selector',
              selector: { matchLabels: { [`routes-${suite}`]: 'yes' } },
            },
          },
        },
      ],
      { addresses: ['192.0.2.90'] },
    );
    const edge = { name: 'edge', namespace: demo };
    const hosts = (label: string) => ['same', 'all', 'sel'].map((l) => `${label}.${l}.${ZONE}`);
    await gateways.route(HTTPRoutes, 'own', { parentRefs: [edge], hostnames: hosts('own') });
    await gateways.route(
      HTTPRoutes,
      'guest',
      { parentRefs: [edge], hostnames: hosts('guest') },
      { namespace: evil },
    );
    await waitFor(async () => (await valuesOf(`guest.all.${ZONE}`)).join() === '192.0.2.90');
    await waitFor(async () => (await valuesOf(`own.same.${ZONE}`)).join() === '192.0.2.90');
    expect(await valuesOf(`guest.same.${ZONE}`)).toEqual([]);
    expect(await valuesOf(`guest.sel.${ZONE}`)).toEqual([]);
    expect(await valuesOf(`own.sel.${ZONE}`)).toEqual([]);

    // The guest namespace gets the label the selector asks for: its route attaches there too.
    await labelNamespace(evil, { [`routes-${suite}`]: 'yes' });
    await waitFor(async () => (await valuesOf(`guest.sel.${ZONE}`)).join() === '192.0.2.90', {
      timeoutMs: 15_000,
      description: 'the route admitted after the label change',
    });
    expect(await valuesOf(`guest.same.${ZONE}`)).toEqual([]);
  });

  it("Gateway routes across namespaces: a ListenerSet in another namespace counts once the Gateway's allowedListeners admit it", async () => {
    await start('refuse', routeSources);
    await gateways.gateway('hub', [http('base', `base.hub.${ZONE}`)], {
      addresses: ['192.0.2.91'],
      spec: {
        allowedListeners: {
          namespaces: {
            from: 'Selector',
            selector: { matchLabels: { [`listeners-${suite}`]: 'yes' } },
          },
        },
      },
    });
    const guests = new GatewayApi(client, evil, gateways.labels);
    await guests.listenerSet('team', { name: 'hub', namespace: demo }, [
      http('team', `team.hub.${ZONE}`),
    ]);
    await guests.route(HTTPRoutes, 'team', {
      parentRefs: [{ kind: 'ListenerSet', name: 'team' }],
    });
    await gateways.route(HTTPRoutes, 'base', { parentRefs: [{ name: 'hub' }] });
    await waitFor(async () => (await valuesOf(`base.hub.${ZONE}`)).join() === '192.0.2.91');
    expect(await valuesOf(`team.hub.${ZONE}`)).toEqual([]);

    await labelNamespace(evil, { [`listeners-${suite}`]: 'yes' });
    await waitFor(async () => (await valuesOf(`team.hub.${ZONE}`)).join() === '192.0.2.91', {
      timeoutMs: 15_000,
      description: "the ListenerSet's route attached after the label change",
    });
  });

  it('Gateway routes are claims like any other: NameTaken by an Ingress of another namespace, DomainNotAllowed under a DomainPolicy', async () => {
    await start('refuse', routeSources);
    await ingress(demo, 'holder', [`held.${ZONE}`], '192.0.2.92');
    await waitFor(async () => (await valuesOf(`held.${ZONE}`)).join() === '192.0.2.92');
    const guests = new GatewayApi(client, evil, gateways.labels);
    await guests.gateway('own', [http('any')], { addresses: ['203.0.113.92'] });
    await guests.route(HTTPRoutes, 'grab', {
      parentRefs: [{ name: 'own' }],
      hostnames: [`held.${ZONE}`, `mine.${ZONE}`],
    });
    await waitFor(async () => (await valuesOf(`mine.${ZONE}`)).join() === '203.0.113.92');
    const taken = await waitFor(async () =>
      (await warnings({ namespace: evil, name: 'grab', kind: 'HTTPRoute' }, 'NameTaken')).join(),
    );
    expect(taken).toContain(`held.${ZONE} is held by namespace ${demo} (ingress/${demo}/holder)`);
    expect(await valuesOf(`held.${ZONE}`)).toEqual(['192.0.2.92']);

    await policy('demo-names', { namespaces: [demo], domains: [{ suffix: ZONE }] });
    await waitFor(async () => (await valuesOf(`mine.${ZONE}`)).length === 0, {
      timeoutMs: 15_000,
      description: "the route's record removed under the policy",
    });
    const refused = await waitFor(async () =>
      (
        await warnings({ namespace: evil, name: 'grab', kind: 'HTTPRoute' }, 'DomainNotAllowed')
      ).join(),
    );
    expect(refused).toContain(`mine.${ZONE}: no DomainPolicy selects namespace ${evil}`);
  });

  it('moving from Ingress to Gateway API across namespaces: the route of another namespace gets the name once the Ingress goes, the record updated in place, with no gap', async () => {
    await start('refuse', routeSources);
    await ingress(demo, 'legacy', [`moved.${ZONE}`], '192.0.2.93');
    await waitFor(async () => (await valuesOf(`moved.${ZONE}`)).join() === '192.0.2.93');
    const platform = new GatewayApi(client, evil, gateways.labels);
    await platform.gateway('edge', [http('any')], { addresses: ['203.0.113.93'] });
    await platform.route(HTTPRoutes, 'moved', {
      parentRefs: [{ name: 'edge' }],
      hostnames: [`moved.${ZONE}`],
    });
    await waitFor(async () =>
      (await warnings({ namespace: evil, name: 'moved', kind: 'HTTPRoute' }, 'NameTaken')).join(),
    );
    // From here on, the name must answer at every moment.
    const watch = watchForGap(async () => (await valuesOf(`moved.${ZONE}`)).length > 0);
    await client.delete(Ingresses, { namespace: demo, name: 'legacy' });
    await waitFor(async () => (await valuesOf(`moved.${ZONE}`)).join() === '203.0.113.93', {
      timeoutMs: 15_000,
      description: "the route's address in the record",
    });
    // The ownership record names the route: the name is its namespace's now.
    await waitFor(async () =>
      (await provider.records(zone))
        .find((r) => r.name === `a-moved.${ZONE}`)
        ?.values[0]?.endsWith(`resource=httproute/${evil}/moved`),
    );
    expect(await watch.stop()).toBe(false);
  });
});
