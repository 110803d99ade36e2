// The Gateway API route sources on a real API server with Gateway API's own CRDs, in one
// namespace (the rules across namespaces are in tenancy.test.ts, the one file whose operators
// serve every namespace). No Gateway controller runs: the tests write Gateway and route status
// as one would.
import { InMemoryProvider, type RecordSet } from '@chousei/dns';
import {
  Client,
  Events,
  Gateways,
  GRPCRoutes,
  HTTPRoutes,
  Ingresses,
  type ResourceType,
  TCPRoutes,
  TLSRoutes,
  UDPRoutes,
} from '@chousei/runtime';
import {
  type RunningManager,
  setGatewayAddresses,
  setRouteParents,
  waitFor,
} from '@chousei/runtime/testing';
import { installGatewayApi } from '@chousei/testenv';
import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FINALIZER } from '../src/operator.js';
import { ANNOTATION_PREFIXES } from '../src/sources/annotations.js';
import { BACKEND, GatewayApi, http, https, watchForGap } from './gateway-api.js';
import { startDnsOperator } from './operator.js';

const ZONE = 'gw.test';

describe('dns-operator: Gateway API routes', () => {
  let client: Client;
  let ns: string;
  let api: GatewayApi;
  let running: RunningManager;
  const provider = new InMemoryProvider([ZONE]);
  const zone = { id: ZONE, name: ZONE };
  const records = async (name: string) =>
    (await provider.records(zone)).filter((r) => r.name === name && r.type !== 'TXT');
  const valuesOf = async (name: string, type: RecordSet['type'] = 'A') =>
    (await records(name)).find((r) => r.type === type)?.values.sort() ?? [];
  /** Waits until `name` has exactly these records (`TYPE values`), none when empty. */
  const published = (name: string, ...want: string[]) =>
    waitFor(
      async () =>
        (await records(name))
          .map((r) => `${r.type} ${r.values.sort().join(',')}`)
          .sort()
          .join(';') === [...want].sort().join(';'),
      { description: `${name}: ${want.join('; ') || 'no records'}` },
    );
  const warnings = async (kind: string, name: string) =>
    (await client.list(Events, { namespace: ns }))
      .filter(
        (e) => e.regarding?.kind === kind && e.regarding.name === name && e.type === 'Warning',
      )
      .map((e) => `${e.reason}: ${e.note}`);

  /** An Ingress for `host` whose load balancer is `ip`, as an ingress controller reports it. */
  const ingress = async (
    name: string,
    host: string,
    ip: string,
    labels?: Record<string, string>,
  ) => {
    await client.create(Ingresses, {
      metadata: { name, namespace: ns, ...(labels ? { labels } : {}) },
      spec: { rules: [{ host }] },
    });
    await client.patchStatus(
      Ingresses,
      { namespace: ns, name },
      { type: 'merge', patch: { status: { loadBalancer: { ingress: [{ ip }] } } } },
    );
  };

  beforeAll(async () => {
    const cluster = await sharedCluster();
    await installGatewayApi(cluster, 'standard');
    ns = await cluster.createNamespace('gateway');
    client = new Client(cluster.kubeConfig);
    api = new GatewayApi(client, ns);
    running = await startDnsOperator({
      provider,
      sources: [
        'ingress',
        'gateway-httproute',
        'gateway-grpcroute',
        'gateway-tlsroute',
        'gateway-tcproute',
        'gateway-udproute',
      ],
      ownerId: 'gateway',
      namespace: ns,
      gatewayListenerSets: true,
    });
  });
  afterAll(() => running?.stop());

  it('intersection and wildcards: a route publishes the hostnames its listeners share, a route without hostnames takes theirs', async () => {
    await api.gateway('edge', [http('web', 'web.gw.test'), https('apps', '*.apps.gw.test')], {
      addresses: ['192.0.2.1'],
    });
    const edge = { name: 'edge' };
    await api.route(HTTPRoutes, 'shop', {
      parentRefs: [edge],
      hostnames: ['web.gw.test', 'other.gw.test', 'shop.apps.gw.test', '*.svc.apps.gw.test'],
    });
    // No hostnames: the listener's, a wildcard included.
    await api.route(HTTPRoutes, 'all-apps', {
      parentRefs: [{ name: 'edge', sectionName: 'apps' }],
    });
    // A wildcard route narrowed to the listener's name.
    await api.route(HTTPRoutes, 'wild', {
      parentRefs: [{ name: 'edge', sectionName: 'web' }],
      hostnames: ['*.gw.test'],
    });
    await published('web.gw.test', 'A 192.0.2.1');
    await published('shop.apps.gw.test', 'A 192.0.2.1');
    await published('*.svc.apps.gw.test', 'A 192.0.2.1');
    await published('*.apps.gw.test', 'A 192.0.2.1');
    expect(await records('other.gw.test')).toEqual([]);
    expect(await records('*.gw.test')).toEqual([]);
    // Ownership names the route, as external-dns writes it.
    const txt = (await provider.records(zone)).find((r) => r.name === 'a-shop.apps.gw.test');
    expect(txt?.values).toEqual([
      `heritage=external-dns,external-dns/owner=gateway,external-dns/resource=httproute/${ns}/shop`,
    ]);
    const route = await waitFor(async () => {
      const r = await client.get(HTTPRoutes, { namespace: ns, name: 'shop' });
      return r.metadata?.finalizers?.includes(FINALIZER) && r;
    });
    expect(route.metadata?.finalizers).toEqual([FINALIZER]);
  });

  it('acceptance: only parents that accepted the route count, each for the section and port it names', async () => {
    await api.gateway(
      'accept',
      [http('one', '*.one.gw.test'), { ...http('two', '*.two.gw.test'), port: 8080 }],
      { addresses: ['192.0.2.2'] },
    );
    const hosts = (name: string) => [`${name}.one.gw.test`, `${name}.two.gw.test`];
    await api.route(
      HTTPRoutes,
      'refused',
      { parentRefs: [{ name: 'accept' }], hostnames: hosts('refused') },
      { accepted: false },
    );
    // Status naming a parent the spec does not: not this route's parent.
    await api.route(HTTPRoutes, 'stray', {
      parentRefs: [{ name: 'elsewhere' }],
      hostnames: hosts('stray'),
    });
    await setRouteParents(
      client,
      HTTPRoutes,
      { namespace: ns, name: 'stray' },
      { parents: [{ name: 'accept' }] },
    );
    // A port no listener has: accepted, and yet no listener to take it.
    await api.route(HTTPRoutes, 'wrong-port', {
      parentRefs: [{ name: 'accept', port: 8443 }],
      hostnames: hosts('wrong-port'),
    });
    await api.route(HTTPRoutes, 'port', {
      parentRefs: [{ name: 'accept', port: 8080 }],
      hostnames: hosts('port'),
    });
    await api.route(HTTPRoutes, 'section', {
      parentRefs: [{ name: 'accept', sectionName: 'two' }],
      hostnames: hosts('section'),
    });
    // One route, two parentRefs (one per section): only the one accepted counts.
    await api.route(
      HTTPRoutes,
      'per-parent',
      {
        parentRefs: [
          { name: 'accept', sectionName: 'one' },
          { name: 'accept', sectionName: 'two' },
        ],
        hostnames: hosts('per-parent'),
      },
      { accepted: (parent) => parent.sectionName === 'two' },
    );
    for (const name of ['port', 'section', 'per-parent']) {
      await published(`${name}.two.gw.test`, 'A 192.0.2.2');
      expect(await records(`${name}.one.gw.test`)).toEqual([]);
    }
    for (const name of ['refused', 'stray', 'wrong-port'])
      for (const host of hosts(name)) expect(await records(host)).toEqual([]);

    // The Gateway accepts the refused route: its names come, through both listeners.
    await setRouteParents(client, HTTPRoutes, { namespace: ns, name: 'refused' });
    await published('refused.one.gw.test', 'A 192.0.2.2');
    await published('refused.two.gw.test', 'A 192.0.2.2');
    // It accepts the section it refused: that section's name comes too.
    await setRouteParents(client, HTTPRoutes, { namespace: ns, name: 'per-parent' });
    await published('per-parent.one.gw.test', 'A 192.0.2.2');
  });

  it('listener protocols and allowedRoutes kinds: each route kind attaches where its Gateway lets it', async () => {
    await api.gateway(
      'mixed',
      [
        {
          ...http('grpc-only', 'grpc.gw.test'),
          allowedRoutes: { kinds: [{ kind: 'GRPCRoute' }] },
        },
        {
          name: 'tls',
          port: 443,
          protocol: 'TLS',
          hostname: 'tls.gw.test',
          tls: { mode: 'Passthrough' },
        },
        { name: 'tcp', port: 5432, protocol: 'TCP' },
        { name: 'udp', port: 53, protocol: 'UDP' },
      ],
      { addresses: ['192.0.2.3'] },
    );
    const mixed = [{ name: 'mixed' }];
    await api.route(HTTPRoutes, 'not-grpc', { parentRefs: mixed, hostnames: ['grpc.gw.test'] });
    await api.route(GRPCRoutes, 'grpc', { parentRefs: mixed, hostnames: ['grpc.gw.test'] });
    await api.route(TLSRoutes, 'tls', {
      parentRefs: mixed,
      hostnames: ['tls.gw.test'],
      rules: BACKEND,
    });
    // TCP and UDP routes have no hostnames: the annotation names them, in every prefix.
    await api.route(
      TCPRoutes,
      'db',
      { parentRefs: [{ name: 'mixed', sectionName: 'tcp' }], rules: BACKEND },
      { annotations: { 'dns.chousei.dev/hostname': 'db.gw.test' } },
    );
    await api.route(
      UDPRoutes,
      'dns',
      { parentRefs: mixed, rules: BACKEND },
      { annotations: { 'external-dns.kubernetes.io/hostname': 'udp.gw.test' } },
    );
    await published('grpc.gw.test', 'A 192.0.2.3');
    await published('tls.gw.test', 'A 192.0.2.3');
    await published('db.gw.test', 'A 192.0.2.3');
    await published('udp.gw.test', 'A 192.0.2.3');
    const owner = (await provider.records(zone)).find((r) => r.name === 'a-grpc.gw.test');
    expect(owner?.values[0]).toContain(`resource=grpcroute/${ns}/grpc`);
    // A TLS listener takes TCP routes, a TCP one no TLS route (no hostname to match either).
    for (const [rt, name] of [
      [GRPCRoutes, 'grpc'],
      [TLSRoutes, 'tls'],
      [TCPRoutes, 'db'],
      [UDPRoutes, 'dns'],
    ] as const)
      await waitFor(async () =>
        (await client.get(rt, { namespace: ns, name })).metadata?.finalizers?.includes(FINALIZER),
      );
    // The HTTPRoute claims nothing (the listener takes GRPCRoutes only): it is never held.
    const notGrpc = await client.get(HTTPRoutes, { namespace: ns, name: 'not-grpc' });
    expect(notGrpc.metadata?.finalizers ?? []).toEqual([]);
  });

  it("ListenerSets: their accepted listeners count as the Gateway's, their target annotation first", async () => {
    await api.gateway('shared', [http('base', 'base.gw.test')], {
      addresses: ['192.0.2.4'],
      spec: { allowedListeners: { namespaces: { from: 'Same' } } },
    });
    await api.listenerSet('team', { name: 'shared' }, [http('team', 'team.gw.test')]);
    await api.listenerSet('other', { name: 'shared' }, [http('other', '*.other.gw.test')], {
      annotations: { 'external-dns.alpha.kubernetes.io/target': '198.51.100.4' },
    });
    await api.route(HTTPRoutes, 'on-set', {
      parentRefs: [{ kind: 'ListenerSet', name: 'team' }],
      hostnames: ['team.gw.test', 'base.gw.test'],
    });
    await api.route(HTTPRoutes, 'on-other', {
      parentRefs: [{ kind: 'ListenerSet', name: 'other' }],
      hostnames: ['x.other.gw.test'],
    });
    // The set's listeners only: base.gw.test is the Gateway's own.
    await published('team.gw.test', 'A 192.0.2.4');
    await published('x.other.gw.test', 'A 198.51.100.4');
    expect(await records('base.gw.test')).toEqual([]);

    // A Gateway that stops admitting ListenerSets detaches their routes.
    await client.patch(
      Gateways,
      { namespace: ns, name: 'shared' },
      {
        type: 'merge',
        patch: { spec: { allowedListeners: { namespaces: { from: 'None' } } } },
      },
    );
    await published('team.gw.test');
    await published('x.other.gw.test');
  });

  it("annotations: the Gateway's target over its addresses, TTL and hostname on the route; a target on a route is reported, annotation-only leaves the spec's hostnames out", async () => {
    await api.gateway('notes', [http('any')], {
      addresses: ['192.0.2.5'],
      annotations: { 'external-dns.kubernetes.io/target': 'lb.example.net' },
    });
    await api.route(
      HTTPRoutes,
      'ttl',
      { parentRefs: [{ name: 'notes' }], hostnames: ['ttl.gw.test'] },
      {
        annotations: {
          'external-dns.alpha.kubernetes.io/ttl': '90s',
          'dns.chousei.dev/hostname': 'extra.gw.test',
          'dns.chousei.dev/target': '203.0.113.9',
        },
      },
    );
    // The target annotation overrides the Gateway's addresses: a CNAME.
    await published('ttl.gw.test', 'CNAME lb.example.net');
    await published('extra.gw.test', 'CNAME lb.example.net');
    expect((await records('ttl.gw.test'))[0]?.ttl).toBe(90);
    await waitFor(async () =>
      (await warnings('HTTPRoute', 'ttl')).some((w) =>
        w.startsWith(
          'InvalidInput: metadata.annotations[dns.chousei.dev/target]: is not read on routes',
        ),
      ),
    );

    // annotation-only: the spec's hostnames are not published.
    await api.route(
      HTTPRoutes,
      'annotated',
      { parentRefs: [{ name: 'notes' }], hostnames: ['spec.gw.test'] },
      {
        annotations: {
          'external-dns.kubernetes.io/gateway-hostname-source': 'annotation-only',
          'external-dns.kubernetes.io/hostname': 'only.gw.test',
        },
      },
    );
    await published('only.gw.test', 'CNAME lb.example.net');
    expect(await records('spec.gw.test')).toEqual([]);
  });

  it('annotations in each prefix: hostname and TTL on the route, target on the Gateway, read alike under dns.chousei.dev/, external-dns.kubernetes.io/ and external-dns.alpha.kubernetes.io/', async () => {
    for (const [i, prefix] of ANNOTATION_PREFIXES.entries()) {
      await api.gateway(`prefix-${i}`, [http('any')], {
        addresses: ['192.0.2.10'],
        annotations: { [`${prefix}target`]: `lb-${i}.example.net` },
      });
      await api.route(
        HTTPRoutes,
        `prefix-${i}`,
        { parentRefs: [{ name: `prefix-${i}` }], hostnames: [`spec-${i}.gw.test`] },
        {
          annotations: {
            [`${prefix}hostname`]: `noted-${i}.gw.test`,
            [`${prefix}ttl`]: `${60 + i}`,
          },
        },
      );
    }
    for (const i of ANNOTATION_PREFIXES.keys()) {
      for (const name of [`spec-${i}.gw.test`, `noted-${i}.gw.test`]) {
        await published(name, `CNAME lb-${i}.example.net`);
        expect((await records(name))[0]?.ttl).toBe(60 + i);
      }
    }
  });

  it("--annotation-prefix: a route's hostname, TTL and hostname source, a Gateway's and a ListenerSet's target are read under that one prefix, the default prefixes not at all", async () => {
    // A second operator, reading internal.example.com/ alone, serves a namespace of its own.
    const cluster = await sharedCluster();
    const internalNs = await cluster.createNamespace('gateway-prefix');
    const internal = new GatewayApi(client, internalNs);
    const second = await startDnsOperator({
      provider,
      sources: ['gateway-httproute'],
      ownerId: 'gateway-prefix',
      namespace: internalNs,
      gatewayListenerSets: true,
      annotationPrefix: 'internal.example.com/',
    });
    try {
      await internal.gateway('internal', [http('any')], {
        addresses: ['192.0.2.20'],
        annotations: {
          'internal.example.com/target': 'lb-internal.example.net',
          'dns.chousei.dev/target': 'lb-ours.example.net',
        },
        spec: { allowedListeners: { namespaces: { from: 'Same' } } },
      });
      await internal.route(
        HTTPRoutes,
        'internal',
        { parentRefs: [{ name: 'internal' }], hostnames: ['spec.prefix.gw.test'] },
        {
          annotations: {
            'internal.example.com/gateway-hostname-source': 'annotation-only',
            'internal.example.com/hostname': 'noted.prefix.gw.test',
            'internal.example.com/ttl': '75',
            'external-dns.kubernetes.io/hostname': 'public.prefix.gw.test',
          },
        },
      );
      await published('noted.prefix.gw.test', 'CNAME lb-internal.example.net');
      expect((await records('noted.prefix.gw.test'))[0]?.ttl).toBe(75);
      // annotation-only was read under the prefix; the external-dns hostname was not read.
      expect(await records('spec.prefix.gw.test')).toEqual([]);
      expect(await records('public.prefix.gw.test')).toEqual([]);

      // A Gateway annotated under the default prefixes only: its addresses, the default TTL.
      await internal.gateway('public', [http('any')], {
        addresses: ['192.0.2.21'],
        annotations: { 'external-dns.kubernetes.io/target': 'lb-public.example.net' },
      });
      await internal.route(
        HTTPRoutes,
        'public',
        { parentRefs: [{ name: 'public' }], hostnames: ['addr.prefix.gw.test'] },
        { annotations: { 'dns.chousei.dev/ttl': '90' } },
      );
      await published('addr.prefix.gw.test', 'A 192.0.2.21');
      expect((await records('addr.prefix.gw.test'))[0]?.ttl).toBe(300);

      // A ListenerSet's target under the prefix wins over its Gateway's.
      await internal.listenerSet('set', { name: 'internal' }, [http('set', 'set.prefix.gw.test')], {
        annotations: { 'internal.example.com/target': '198.51.100.20' },
      });
      await internal.route(HTTPRoutes, 'on-set', {
        parentRefs: [{ kind: 'ListenerSet', name: 'set' }],
      });
      await published('set.prefix.gw.test', 'A 198.51.100.20');
    } finally {
      await second.stop();
    }
  });

  it('conflicts and Events as for Ingresses: the older Ingress keeps a name the route would make a CNAME (Conflict on the route), which the route publishes once the Ingress goes (Published on the route)', async () => {
    await ingress('clash', 'clash.gw.test', '192.0.2.11');
    await published('clash.gw.test', 'A 192.0.2.11');
    // Ages count in seconds (creationTimestamp), a tie goes by resource name: a later second.
    await new Promise((r) => setTimeout(r, 1100));
    await api.gateway('clash', [http('web', 'clash.gw.test')], {
      addresses: ['lb-clash.example.net'],
    });
    await api.route(HTTPRoutes, 'clash', { parentRefs: [{ name: 'clash' }] });
    const conflict = await waitFor(async () =>
      (await warnings('HTTPRoute', 'clash')).find((w) => w.startsWith('Conflict: ')),
    );
    expect(conflict).toBe(
      `Conflict: not published: clash.gw.test already has A records for ingress/${ns}/clash, and a CNAME must be alone at its name`,
    );
    expect(await valuesOf('clash.gw.test')).toEqual(['192.0.2.11']);

    await client.delete(Ingresses, { namespace: ns, name: 'clash' });
    await published('clash.gw.test', 'CNAME lb-clash.example.net');
    const normal = async () =>
      (await client.list(Events, { namespace: ns }))
        .filter((e) => e.regarding?.kind === 'HTTPRoute' && e.regarding.name === 'clash')
        .filter((e) => e.type === 'Normal')
        .map((e) => `${e.reason}: ${e.note}`);
    await waitFor(async () =>
      (await normal()).includes('Published: published clash.gw.test CNAME lb-clash.example.net'),
    );
  });

  it('status-driven targets: IPv4, IPv6 and hostnames from status.addresses follow the Gateway; emptied addresses keep the records', async () => {
    await api.gateway('moving', [http('web', 'moving.gw.test')], {
      addresses: ['192.0.2.6', '2001:DB8::6'],
    });
    await api.route(HTTPRoutes, 'moving', { parentRefs: [{ name: 'moving' }] });
    await published('moving.gw.test', 'A 192.0.2.6', 'AAAA 2001:db8::6');

    const key = { namespace: ns, name: 'moving' };
    await setGatewayAddresses(client, key, ['lb-1.example.net']);
    await published('moving.gw.test', 'CNAME lb-1.example.net');

    // A Gateway that lost its addresses (its controller restarting): the records stay.
    await setGatewayAddresses(client, key, []);
    await new Promise((r) => setTimeout(r, 500));
    await published('moving.gw.test', 'CNAME lb-1.example.net');
    await setGatewayAddresses(client, key, ['192.0.2.66']);
    await published('moving.gw.test', 'A 192.0.2.66');
    expect(await valuesOf('moving.gw.test', 'CNAME')).toEqual([]);
  });

  it('detach and delete: a route that leaves its Gateway, or goes, takes its records along', async () => {
    await api.gateway('leaving', [http('web', '*.leaving.gw.test')], { addresses: ['192.0.2.7'] });
    await api.route(HTTPRoutes, 'detached', {
      parentRefs: [{ name: 'leaving' }],
      hostnames: ['a.leaving.gw.test'],
    });
    await api.route(HTTPRoutes, 'deleted', {
      parentRefs: [{ name: 'leaving' }],
      hostnames: ['b.leaving.gw.test'],
    });
    await published('a.leaving.gw.test', 'A 192.0.2.7');
    await published('b.leaving.gw.test', 'A 192.0.2.7');

    await api.detach(HTTPRoutes, 'detached');
    await published('a.leaving.gw.test');
    expect((await provider.records(zone)).filter((r) => r.name === 'a-a.leaving.gw.test')).toEqual(
      [],
    );
    // Claiming nothing, it is released.
    await waitFor(
      async () =>
        !(await client.get(HTTPRoutes, { namespace: ns, name: 'detached' })).metadata?.finalizers
          ?.length,
    );

    await client.delete(HTTPRoutes, { namespace: ns, name: 'deleted' });
    await published('b.leaving.gw.test');
    await waitFor(() =>
      client.get(HTTPRoutes, { namespace: ns, name: 'deleted' }).then(
        () => false,
        () => true,
      ),
    );
  });

  it("the cert-operator's temporary HTTP-01 routes claim no name: they route one path of a name another object holds", async () => {
    await api.gateway('solver', [http('web')], { addresses: ['192.0.2.9'] });
    const label = { 'cert.chousei.dev/http01-solver': 'true' };
    await client.create(HTTPRoutes, {
      metadata: { name: 'chousei-acme-http01-route', namespace: ns, labels: label },
      spec: { parentRefs: [{ name: 'solver' }], hostnames: ['challenge.gw.test'] },
    });
    await setRouteParents(client, HTTPRoutes, { namespace: ns, name: 'chousei-acme-http01-route' });
    await ingress('chousei-acme-http01-ingress', 'challenge.gw.test', '192.0.2.90', label);
    // An ordinary route on the same Gateway, made after them, is published.
    await api.route(HTTPRoutes, 'real', {
      parentRefs: [{ name: 'solver' }],
      hostnames: ['real.gw.test'],
    });
    await published('real.gw.test', 'A 192.0.2.9');
    expect(await records('challenge.gw.test')).toEqual([]);
    const held = async (rt: ResourceType, name: string) =>
      (await client.get(rt, { namespace: ns, name })).metadata?.finalizers ?? [];
    expect(await held(HTTPRoutes, 'chousei-acme-http01-route')).toEqual([]);
    expect(await held(Ingresses, 'chousei-acme-http01-ingress')).toEqual([]);
  });

  it('moving from Ingress to Gateway API: an Ingress and an HTTPRoute claiming one name from one namespace merge into one record set, which the route keeps when the Ingress goes', async () => {
    await api.gateway('switch', [http('web', 'switch.gw.test')], { addresses: ['192.0.2.8'] });
    await ingress('switch', 'switch.gw.test', '192.0.2.80');
    await published('switch.gw.test', 'A 192.0.2.80');
    // From here on, the name must answer at every moment: watched every few milliseconds.
    const watch = watchForGap(async () => (await valuesOf('switch.gw.test')).length > 0);
    await api.route(HTTPRoutes, 'switch', { parentRefs: [{ name: 'switch' }] });
    await published('switch.gw.test', 'A 192.0.2.8,192.0.2.80');
    expect(await warnings('HTTPRoute', 'switch')).toEqual([]);
    // The Ingress goes: the record keeps the route's address (updated, never deleted).
    await client.delete(Ingresses, { namespace: ns, name: 'switch' });
    await published('switch.gw.test', 'A 192.0.2.8');
    // The ownership record now names the route: the record is its to keep or delete.
    await waitFor(async () =>
      (await provider.records(zone))
        .find((r) => r.name === 'a-switch.gw.test')
        ?.values[0]?.endsWith(`resource=httproute/${ns}/switch`),
    );
    expect(await watch.stop()).toBe(false);
  });
});
