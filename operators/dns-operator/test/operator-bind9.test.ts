import { execFile } from 'node:child_process';
import { RFC2136Provider } from '@chousei/dns';
import {
  Client,
  createLogger,
  Events,
  Ingresses,
  Manager,
  metricsRegistry,
  Services,
} from '@chousei/runtime';
import { type RunningManager, startManager, waitFor } from '@chousei/runtime/testing';
import { type Bind9, parseMetrics, startBind9, sumMetric } from '@chousei/testenv';
import { operatorKubeConfig, operatorServiceAccount, sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type DNSEndpointRecordType,
  type DNSEndpointSpec,
  DNSEndpoints,
  dnsEndpointCRD,
} from '../src/api/dnsendpoint.js';
import { setupDnsOperator } from '../src/operator.js';

const logLevel = process.env.TEST_LOG ?? 'silent';

describe('dns-operator against BIND9 over RFC2136', () => {
  let bind: Bind9;
  let client: Client;
  let ns: string;
  let kubeConfig: Awaited<ReturnType<typeof sharedCluster>>['kubeConfig'];
  const running: RunningManager[] = [];

  /** A dns-operator replica (leader-elected, so several can run side by side). */
  const startReplica = async (identity: string) => {
    const manager = new Manager({
      kubeConfig,
      healthProbePort: false,
      metricsPort: false,
      logger: createLogger({ level: logLevel }),
      leaderElection: {
        name: `dns-operator-${ns}`,
        namespace: operatorServiceAccount().namespace,
        identity,
        leaseDurationMs: 3000,
        renewDeadlineMs: 2000,
        retryPeriodMs: 300,
      },
    });
    const provider = new RFC2136Provider({
      host: bind.host,
      port: bind.port,
      zones: bind.zones,
      tsig: bind.tsig,
      timeoutMs: 1000,
      attempts: 2,
    });
    setupDnsOperator(manager, {
      provider,
      sources: ['ingress', 'service', 'dnsendpoint'],
      ownerId: 'chousei-test',
      namespace: ns,
      // As the chart runs it: the first-sync state beside the Lease, so a restart is no
      // first sync (its deletes are not held).
      firstSync: {
        configMap: {
          namespace: operatorServiceAccount().namespace,
          name: 'chousei-dns-operator-first-sync',
        },
      },
      logger: createLogger({ level: logLevel }),
    });
    return manager;
  };
  const start = async (identity: string) => {
    const r = await startManager(await startReplica(identity), { timeoutMs: 20_000 });
    running.push(r);
    return r;
  };

  const nsupdate = async (script: string) => {
    const { tsig } = bind;
    const child = execFile('nsupdate', ['-y', `${tsig.algorithm}:${tsig.name}:${tsig.secret}`]);
    child.stdin?.end(`server 127.0.0.1 ${bind.port}\nzone example.test\n${script}\nsend\n`);
    await new Promise((r) => child.once('exit', r));
  };
  const ingress = async (name: string, host: string, ip: string) => {
    await client.create(Ingresses, {
      metadata: { name, namespace: ns },
      spec: { rules: [{ host }] },
    });
    await client.patchStatus(
      Ingresses,
      { namespace: ns, name },
      { type: 'merge', patch: { status: { loadBalancer: { ingress: [{ ip }] } } } },
    );
  };
  const answers = (name: string, type = 'A') => bind.dig(name, type);

  beforeAll(async () => {
    bind = await startBind9({ zones: ['example.test'] });
    const cluster = await sharedCluster();
    kubeConfig = await operatorKubeConfig();
    await cluster.apply([dnsEndpointCRD]);
    ns = await cluster.createNamespace('dnsbind');
    client = new Client(cluster.kubeConfig);
  });
  // A failed test leaves no replica holding the Lease the next one waits for.
  afterEach(async () => {
    for (const r of running.splice(0)) await r.stop().catch(() => {});
  });
  afterAll(async () => {
    await bind?.stop();
  });

  it('publishes, never touches records of another owner, and rides out a DNS server outage', async () => {
    // Records someone else made: a manual A, and one owned by another external-dns.
    await nsupdate('update add manual.example.test 60 A 198.51.100.1');
    await nsupdate(
      'update add theirs.example.test 60 A 198.51.100.2\nupdate add a-theirs.example.test 60 TXT "heritage=external-dns,external-dns/owner=other-cluster"',
    );
    const replica = await start('only');
    await ingress('app', 'app.example.test', '192.0.2.1');
    await waitFor(async () => (await answers('app.example.test')).join() === '192.0.2.1', {
      timeoutMs: 15_000,
    });
    expect(await answers('a-app.example.test', 'TXT')).toEqual([
      `"heritage=external-dns,external-dns/owner=chousei-test,external-dns/resource=ingress/${ns}/app"`,
    ]);
    await ingress('clash-manual', 'manual.example.test', '192.0.2.9');
    await ingress('clash-theirs', 'theirs.example.test', '192.0.2.9');

    // Outage: changes made meanwhile land once the server is back, none lost or doubled.
    await bind.stopServer();
    await ingress('during-outage', 'outage.example.test', '192.0.2.3');
    await client.patchStatus(
      Ingresses,
      { namespace: ns, name: 'app' },
      { type: 'merge', patch: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.2' }] } } } },
    );
    await new Promise((r) => setTimeout(r, 1500));
    await bind.startServer();
    await waitFor(async () => (await answers('outage.example.test')).join() === '192.0.2.3', {
      timeoutMs: 30_000,
    });
    await waitFor(async () => (await answers('app.example.test')).join() === '192.0.2.2', {
      timeoutMs: 30_000,
    });

    expect(await answers('manual.example.test')).toEqual(['198.51.100.1']);
    expect(await answers('theirs.example.test')).toEqual(['198.51.100.2']);
    // The losers hear why, as Warning Events on their Ingress. Each name is reconciled (and
    // retried after the outage) on its own: every Event the assertions read is waited for.
    const events = await waitFor(async () => {
      const list = await client.list(Events, { namespace: ns });
      const of = (name: string) =>
        list
          .filter((e) => e.regarding?.name === name)
          .map((e) => `${e.type} ${e.reason}: ${e.note}`);
      const seen = { theirs: of('clash-theirs'), manual: of('clash-manual'), app: of('app') };
      const has = (events: string[], prefix: string) => events.some((e) => e.startsWith(prefix));
      return (
        has(seen.theirs, 'Warning Conflict') &&
        has(seen.manual, 'Warning Conflict') &&
        has(seen.app, 'Normal Published') &&
        seen
      );
    });
    expect(events.theirs.join()).toMatch(/owned by "other-cluster"/);
    expect(events.manual.join()).toMatch(/exists without an ownership record/);
    expect(events.app.join()).toMatch(/Normal Published: published app.example.test A/);
    await replica.stop();
    running.length = 0;
  });

  it('issue 16, records pending apply: chousei_dns_names{reason="Failed"} counts a name the DNS server has not taken, until it has', async () => {
    // Process-wide, so other tests' replicas count too: compared with what it was.
    const names = async (reason: string) =>
      sumMetric(parseMetrics(await metricsRegistry.metrics()), 'chousei_dns_names', { reason });
    const replica = await start('pending');
    const failedBefore = await names('Failed');
    await ingress('pending-before', 'pending-before.example.test', '192.0.2.21');
    await waitFor(async () => (await answers('pending-before.example.test')).length > 0, {
      timeoutMs: 15_000,
    });
    await bind.stopServer();
    try {
      await ingress('pending', 'pending.example.test', '192.0.2.22');
      // The update fails, then so does every re-read of the zone before the retry.
      await waitFor(async () => (await names('Failed')) === failedBefore + 1, {
        timeoutMs: 15_000,
      });
      await new Promise((r) => setTimeout(r, 1500));
      expect(await names('Failed')).toBe(failedBefore + 1);
      // A published name whose target changes meanwhile: the zone cannot be read (it went
      // stale with the failed update), so its record is out of date: pending too.
      await client.patchStatus(
        Ingresses,
        { namespace: ns, name: 'pending-before' },
        { type: 'merge', patch: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.23' }] } } } },
      );
      await waitFor(async () => (await names('Failed')) === failedBefore + 2, {
        timeoutMs: 15_000,
      });
    } finally {
      await bind.startServer();
    }
    await waitFor(async () => (await answers('pending.example.test')).join() === '192.0.2.22', {
      timeoutMs: 30_000,
    });
    await waitFor(
      async () => (await answers('pending-before.example.test')).join() === '192.0.2.23',
      { timeoutMs: 30_000 },
    );
    await waitFor(async () => (await names('Failed')) === failedBefore, { timeoutMs: 5_000 });
    await replica.stop();
    running.length = 0;
  });

  it('publishes Services and DNSEndpoints, follows their changes and deletes', async () => {
    const replica = await start('svc');
    await client.create(Services, {
      metadata: {
        name: 'api',
        namespace: ns,
        annotations: { 'dns.chousei.dev/hostname': 'api.example.test' },
      },
      spec: { type: 'LoadBalancer', ports: [{ port: 443 }] },
    });
    await client.patchStatus(
      Services,
      { namespace: ns, name: 'api' },
      {
        type: 'merge',
        patch: { status: { loadBalancer: { ingress: [{ hostname: 'lb.example.net' }] } } },
      },
    );
    await client.create(DNSEndpoints, {
      metadata: { name: 'extra', namespace: ns },
      spec: {
        endpoints: [
          {
            dnsName: 'extra.example.test',
            recordType: 'AAAA',
            targets: ['2001:db8::1'],
            recordTTL: 60,
          },
        ],
      },
    });
    await waitFor(
      async () => (await answers('api.example.test', 'CNAME')).join() === 'lb.example.net.',
      { timeoutMs: 15_000 },
    );
    await waitFor(
      async () => (await answers('extra.example.test', 'AAAA')).join() === '2001:db8::1',
      { timeoutMs: 15_000 },
    );

    await client.patch(
      DNSEndpoints,
      { namespace: ns, name: 'extra' },
      {
        type: 'merge',
        patch: {
          spec: {
            endpoints: [
              {
                dnsName: 'extra.example.test',
                recordType: 'AAAA',
                targets: ['2001:db8::2'],
                recordTTL: 60,
              },
            ],
          },
        },
      },
    );
    await waitFor(
      async () => (await answers('extra.example.test', 'AAAA')).join() === '2001:db8::2',
      { timeoutMs: 15_000 },
    );

    await client.delete(Services, { namespace: ns, name: 'api' });
    await client.delete(DNSEndpoints, { namespace: ns, name: 'extra' });
    await waitFor(
      async () =>
        !(await answers('api.example.test', 'CNAME')).length &&
        !(await answers('extra.example.test', 'AAAA')).length,
      {
        timeoutMs: 15_000,
      },
    );
    await replica.stop();
    running.length = 0;
  });

  /** Events about an object, as `TYPE Reason: note`. */
  const eventsOf = async (name: string) =>
    (await client.list(Events, { namespace: ns }))
      .filter((e) => e.regarding?.name === name)
      .map((e) => `${e.type} ${e.reason}: ${e.note}`);

  it('finding 3: a DNSEndpoint record of an unmanaged type is reported as not published, nothing written', async () => {
    await start('types');
    const spec = (first: {
      recordType: DNSEndpointRecordType;
      targets: string[];
    }): DNSEndpointSpec => ({
      endpoints: [
        { dnsName: 'types.example.test', ...first },
        { dnsName: 'types.example.test', recordType: 'TXT', targets: ['v=spf1 -all'] },
        { dnsName: 'types.example.test', recordType: 'MX', targets: ['10 mail.example.test.'] },
        {
          dnsName: '_sip._tcp.example.test',
          recordType: 'SRV',
          targets: ['10 5 5060 sip.example.test.'],
        },
      ],
    });
    await client.create(DNSEndpoints, {
      metadata: { name: 'types', namespace: ns },
      spec: spec({ recordType: 'A', targets: ['192.0.2.40'] }),
    });
    await waitFor(async () => (await answers('types.example.test')).join() === '192.0.2.40', {
      timeoutMs: 15_000,
    });
    const status = await waitFor(async () => {
      const eps = (await client.get(DNSEndpoints, { namespace: ns, name: 'types' })).status
        ?.endpoints;
      return eps?.length === 4 && eps[0]?.published && eps;
    });
    const unmanaged = (type: string, name: string) => ({
      dnsName: name,
      recordType: type,
      published: false,
      reason: 'UnmanagedType',
      message: `${type} ${name} is not published: ${type} is not among the managed record types (A, AAAA, CNAME); add it to --managed-record-types`,
    });
    expect(status.slice(1)).toEqual([
      unmanaged('TXT', 'types.example.test'),
      unmanaged('MX', 'types.example.test'),
      unmanaged('SRV', '_sip._tcp.example.test'),
    ]);
    // Nothing written for them (the A record's ownership TXT lives at a-types).
    expect(await answers('types.example.test', 'TXT')).toEqual([]);
    expect(await answers('types.example.test', 'MX')).toEqual([]);
    expect(await answers('_sip._tcp.example.test', 'SRV')).toEqual([]);
    const warnings = await waitFor(async () => {
      const list = (await eventsOf('types')).filter((e) => e.startsWith('Warning UnmanagedType'));
      return list.length === 3 && list;
    });
    expect(warnings.sort()).toEqual(
      [
        'Warning UnmanagedType: spec.endpoints[1]: TXT types.example.test is not published: TXT is not among the managed record types (A, AAAA, CNAME); add it to --managed-record-types',
        'Warning UnmanagedType: spec.endpoints[2]: MX types.example.test is not published: MX is not among the managed record types (A, AAAA, CNAME); add it to --managed-record-types',
        'Warning UnmanagedType: spec.endpoints[3]: SRV _sip._tcp.example.test is not published: SRV is not among the managed record types (A, AAAA, CNAME); add it to --managed-record-types',
      ].sort(),
    );

    // A managed record turned into an unmanaged one goes: it is not kept as if it waited for targets.
    await client.patch(
      DNSEndpoints,
      { namespace: ns, name: 'types' },
      { type: 'merge', patch: { spec: spec({ recordType: 'TXT', targets: ['hello'] }) } },
    );
    await waitFor(async () => (await answers('types.example.test')).length === 0, {
      timeoutMs: 15_000,
    });
  });

  it('finding 4: conflict Events say what clashes, each word once', async () => {
    await start('wording');
    // Someone else's CNAME, and an Ingress asking for an A record at its name.
    await nsupdate('update add alias.example.test 60 CNAME elsewhere.example.net.');
    await ingress('beside-cname', 'alias.example.test', '192.0.2.41');
    const notes = await waitFor(async () => {
      const list = (await eventsOf('beside-cname')).filter((e) => e.startsWith('Warning Conflict'));
      return list.length > 0 && list;
    });
    expect(notes).toEqual([
      'Warning Conflict: not published: alias.example.test is a CNAME, which must be alone at its name: no A record can be added beside it',
    ]);
    expect(await answers('alias.example.test', 'CNAME')).toEqual(['elsewhere.example.net.']);
  });

  it('removes the records of objects deleted while it was down', async () => {
    const replica = await start('first');
    await ingress('short-lived', 'gone.example.test', '192.0.2.5');
    await waitFor(async () => (await answers('gone.example.test')).join() === '192.0.2.5', {
      timeoutMs: 15_000,
    });
    await replica.stop();
    running.length = 0;

    // The finalizer keeps the Ingress until the operator is back and has cleaned up.
    await client.delete(Ingresses, { namespace: ns, name: 'short-lived' });
    const held = await client.get(Ingresses, { namespace: ns, name: 'short-lived' });
    expect(held.metadata?.deletionTimestamp).toBeTruthy();
    expect(await answers('gone.example.test')).toEqual(['192.0.2.5']);

    await start('second');
    await waitFor(async () => (await answers('gone.example.test')).length === 0, {
      timeoutMs: 15_000,
    });
    expect(await answers('a-gone.example.test', 'TXT')).toEqual([]);
    await waitFor(() =>
      client.get(Ingresses, { namespace: ns, name: 'short-lived' }).then(
        () => false,
        () => true,
      ),
    );
    for (const r of running.splice(0)) await r.stop();
  });

  it('runs as two replicas: only the leader writes, the standby takes over', async () => {
    const a = await start('replica-a');
    const managerB = await startReplica('replica-b');
    const stopB = new AbortController();
    const runningB = managerB.start(stopB.signal);
    await ingress('ha-1', 'ha1.example.test', '192.0.2.11');
    await waitFor(async () => (await answers('ha1.example.test')).join() === '192.0.2.11', {
      timeoutMs: 15_000,
    });
    expect(managerB.isLeader).toBe(false);
    await a.stop();
    running.length = 0;
    await waitFor(() => managerB.isLeader, { timeoutMs: 10_000 });
    await ingress('ha-2', 'ha2.example.test', '192.0.2.12');
    await waitFor(async () => (await answers('ha2.example.test')).join() === '192.0.2.12', {
      timeoutMs: 15_000,
    });
    stopB.abort();
    await runningB;
  });
});
