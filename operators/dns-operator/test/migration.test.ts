// Real external-dns v0.22 installations switched over as docs/migration-from-external-dns.md
// says: external-dns's own command (built by testenv) publishes Ingresses (TLS hosts too),
// Services and DNSEndpoints, AWS alias targets included, with a TXT suffix or prefix
// template; then the built chousei-dns-operator runs with the guide's flags. It must change
// nothing: no Route53 change call, the same BIND9 zone (SOA serial) before and after. A
// migration mistake first (the DNSEndpoints left unwatched) shows what the first-sync guard
// makes of it: a warning, and every record still there.
import { RFC2136Provider, type Zone } from '@chousei/dns';
import { Client, Ingresses, type KubeObject, resourceType, Services } from '@chousei/runtime';
import { waitForEvent } from '@chousei/runtime/testing';
import {
  type Bind9,
  externalDnsCrd,
  externalDnsOnce,
  type FaultProxy,
  type Moto,
  startBind9,
  startFaultProxy,
  startMoto,
} from '@chousei/testenv';
import { operatorKubeConfig, sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DNSEndpoints, dnsEndpointCRD } from '../src/api/dnsendpoint.js';
import { runOperator } from './command.js';

/** external-dns's own DNSEndpoint kind. */
const ExternalDnsEndpoints = resourceType<KubeObject & { spec: unknown }>(
  'externaldns.k8s.io/v1alpha1',
  'DNSEndpoint',
  'dnsendpoints',
  true,
);
const OWNER = 'ext-migration';
// The chart runs the operator with POD_NAMESPACE: its first-sync state is kept there.
const STATE = { namespace: 'dns-operator', name: 'chousei-dns-operator-first-sync' };
const suffix = Math.random().toString(36).slice(2, 7);

interface Installation {
  client: Client;
  ns: string;
  /** external-dns's --kubeconfig (admin) and the operator's (the chart's RBAC). */
  adminKubeconfig: string;
  operatorKubeconfig: string;
}

async function installation(prefix: string): Promise<Installation> {
  const cluster = await sharedCluster();
  await cluster.apply([await externalDnsCrd(), dnsEndpointCRD]);
  const ns = await cluster.createNamespace(prefix);
  return {
    client: new Client(cluster.kubeConfig),
    ns,
    adminKubeconfig: await cluster.writeKubeconfig(cluster.kubeConfig, `kubeconfig-${ns}`),
    operatorKubeconfig: await cluster.writeKubeconfig(
      await operatorKubeConfig(),
      `kubeconfig-op-${ns}`,
    ),
  };
}

/** An Ingress (rules and TLS hosts) or a LoadBalancer Service, with its load balancer. */
async function ingress(
  { client, ns }: Installation,
  name: string,
  spec: { rules: string[]; tls?: string[] },
  lb: { ip?: string; hostname?: string },
  annotations: Record<string, string> = {},
) {
  await client.create(Ingresses, {
    metadata: { name, namespace: ns, annotations },
    spec: {
      rules: spec.rules.map((host) => ({ host })),
      ...(spec.tls ? { tls: [{ hosts: spec.tls, secretName: `${name}-tls` }] } : {}),
    },
  });
  await client.patchStatus(
    Ingresses,
    { namespace: ns, name },
    { type: 'merge', patch: { status: { loadBalancer: { ingress: [lb] } } } },
  );
}

async function service(
  { client, ns }: Installation,
  name: string,
  annotations: Record<string, string>,
  ip: string,
) {
  await client.create(Services, {
    metadata: { name, namespace: ns, annotations },
    spec: { type: 'LoadBalancer', ports: [{ port: 443 }] },
  });
  await client.patchStatus(
    Services,
    { namespace: ns, name },
    { type: 'merge', patch: { status: { loadBalancer: { ingress: [{ ip }] } } } },
  );
}

/** The guide's step 2: each DNSEndpoint copied to dns.chousei.dev/v1alpha1, same name. */
async function copyDnsEndpoints({ client, ns }: Installation) {
  for (const ep of await client.list(ExternalDnsEndpoints, { namespace: ns })) {
    await client.create(DNSEndpoints, {
      metadata: { name: ep.metadata?.name ?? '', namespace: ns },
      spec: ep.spec as never,
    });
  }
}

describe('switching over from external-dns v0.22 on Route53 (moto)', () => {
  let moto: Moto;
  let proxy: FaultProxy;
  let zoneId: string;
  let inst: Installation;
  const zone = `r53-${suffix}.test`;
  let aws: Record<string, string>;
  let before: unknown[];

  const changeCalls = () =>
    proxy.seen.filter((r) => r.operation === 'ChangeResourceRecordSets').length;
  /** The dns-operator as the guide installs it: external-dns's owner id, TXT naming, filters. */
  const operator = (extra: string[] = []) =>
    runOperator(
      [
        '--provider=route53',
        '--source=ingress,service,dnsendpoint',
        `--namespace=${inst.ns}`,
        `--txt-owner-id=${OWNER}`,
        '--txt-suffix=-%{record_type}',
        `--domain-filter=${zone}`,
        '--policy=sync',
        // external-dns v0.22 reads this prefix alone: so does the operator, told so.
        '--annotation-prefix=external-dns.kubernetes.io/',
        `--kubeconfig=${inst.operatorKubeconfig}`,
        '--once',
        ...extra,
      ],
      { ...aws, POD_NAMESPACE: STATE.namespace },
    );

  beforeAll(async () => {
    moto = await startMoto();
    zoneId = await moto.createHostedZone(zone);
    proxy = await startFaultProxy(moto.endpoint, () => undefined);
    aws = {
      AWS_ENDPOINT_URL: proxy.endpoint,
      AWS_REGION: moto.region,
      AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey,
    };
    inst = await installation('r53migration');
    await ingress(
      inst,
      'web',
      { rules: [`www.${zone}`], tls: [`www.${zone}`, `secure.${zone}`] },
      {
        ip: '192.0.2.10',
      },
    );
    await ingress(
      inst,
      'shop',
      { rules: [`shop.${zone}`] },
      {
        hostname: 'shop-123.us-east-1.elb.amazonaws.com',
      },
    );
    await service(
      inst,
      'api',
      { 'external-dns.kubernetes.io/hostname': `api.${zone}` },
      '192.0.2.20',
    );
    // external-dns v0.22 does not read the alpha prefix: nothing is published for this one.
    await service(
      inst,
      'alpha',
      { 'external-dns.alpha.kubernetes.io/hostname': `alpha.${zone}` },
      '192.0.2.21',
    );
    await inst.client.create(ExternalDnsEndpoints, {
      metadata: { name: 'records', namespace: inst.ns },
      spec: {
        endpoints: [
          { dnsName: `static.${zone}`, recordType: 'A', targets: ['192.0.2.30'] },
          {
            dnsName: `cdn.${zone}`,
            recordType: 'CNAME',
            targets: ['d111111abcdef8.cloudfront.net'],
          },
          {
            dnsName: `plain.${zone}`,
            recordType: 'CNAME',
            targets: ['origin.example.net'],
            providerSpecific: [{ name: 'alias', value: 'false' }],
          },
        ],
      },
    });
    const run = await externalDnsOnce(
      [
        '--provider=aws',
        '--source=ingress',
        '--source=service',
        '--source=crd',
        `--namespace=${inst.ns}`,
        `--kubeconfig=${inst.adminKubeconfig}`,
        `--txt-owner-id=${OWNER}`,
        '--txt-suffix=-%{record_type}',
        `--domain-filter=${zone}`,
        '--policy=sync',
      ],
      aws,
    );
    expect(run.code, run.output).toBe(0);
    before = await moto.listRecords(zoneId);
  }, 120_000);
  afterAll(async () => {
    await proxy?.close();
    await moto?.stop();
  });

  it('external-dns published what the guide says: TLS hosts, A and AAAA aliases, suffixed TXT names', () => {
    const sets = (before as Array<{ Name: string; Type: string; AliasTarget?: unknown }>).map(
      (r) => `${r.Name.replace(`.${zone}.`, '')} ${r.Type}${r.AliasTarget ? ' alias' : ''}`,
    );
    expect(sets.filter((s) => !s.includes(' TXT') && !/ (NS|SOA)$/.test(s)).sort()).toEqual([
      'api A',
      'cdn A alias',
      'cdn AAAA alias',
      'plain CNAME',
      'secure A',
      'shop A alias',
      'shop AAAA alias',
      'static A',
      'www A',
    ]);
    expect(sets.filter((s) => s.endsWith(' TXT')).sort()).toEqual(
      [
        'api-a',
        'cdn-a',
        'cdn-aaaa',
        'plain-cname',
        'secure-a',
        'shop-a',
        'shop-aaaa',
        'static-a',
        'www-a',
      ].map((n) => `${n} TXT`),
    );
  });

  it('a mistake (the DNSEndpoints left out) costs a DeletesHeld warning, and no record', async () => {
    const calls = changeCalls();
    const r = await operator(['--source=ingress,service']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changeCalls() - calls).toBe(0);
    expect(await moto.listRecords(zoneId)).toEqual(before);
    const events = await waitForEvent(
      inst.client,
      { kind: 'ConfigMap', ...STATE },
      (e) => e.reason === 'DeletesHeld' && !!e.note?.includes(`zone ${zone} `),
    );
    const note = events.find((e) => e.note?.includes(`zone ${zone} `))?.note ?? '';
    expect(note).toContain('deletes of 4 of the 9 records owned there');
    for (const record of [`static.${zone} A`, `cdn.${zone} AAAA`, `plain.${zone} CNAME`])
      expect(note).toContain(record);
  });

  it('run as the guide says, the dns-operator makes no change call and keeps every record', async () => {
    await copyDnsEndpoints(inst);
    const calls = changeCalls();
    const r = await operator();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changeCalls() - calls).toBe(0);
    expect(await moto.listRecords(zoneId)).toEqual(before);
    expect(r.stdout).not.toContain('"action":');
  });
});

describe('switching over from external-dns v0.22 on BIND9 (RFC2136, hmac-sha1)', () => {
  let bind: Bind9;
  let inst: Installation;
  let provider: RFC2136Provider;
  const zoneName = `bind-${suffix}.test`;
  const zone: Zone = { id: zoneName, name: zoneName };
  const serial = async () => (await bind.dig(zoneName, 'SOA'))[0]?.split(' ')[2];

  beforeAll(async () => {
    // hmac-sha1: external-dns accepts it, and so does the dns-operator now.
    bind = await startBind9({ zones: [zoneName], algorithm: 'hmac-sha1' });
    provider = new RFC2136Provider({ host: bind.host, port: bind.port, tsig: bind.tsig });
    inst = await installation('bindmigration');
    await ingress(
      inst,
      'web',
      { rules: [`www.${zoneName}`], tls: [`www.${zoneName}`, `*.apps.${zoneName}`] },
      { ip: '192.0.2.40' },
      { 'external-dns.kubernetes.io/ttl': '60' },
    );
    await ingress(inst, 'blog', { rules: [`blog.${zoneName}`] }, { hostname: 'blog.example.net' });
    await inst.client.create(ExternalDnsEndpoints, {
      metadata: { name: 'records', namespace: inst.ns },
      spec: {
        endpoints: [{ dnsName: `static.${zoneName}`, recordType: 'A', targets: ['192.0.2.50'] }],
      },
    });
    const run = await externalDnsOnce([
      '--provider=rfc2136',
      `--rfc2136-host=${bind.host}`,
      `--rfc2136-port=${bind.port}`,
      `--rfc2136-zone=${zoneName}`,
      `--rfc2136-tsig-keyname=${bind.tsig.name}`,
      `--rfc2136-tsig-secret=${bind.tsig.secret}`,
      '--rfc2136-tsig-secret-alg=hmac-sha1',
      '--rfc2136-axfr',
      '--source=ingress',
      '--source=crd',
      `--namespace=${inst.ns}`,
      `--kubeconfig=${inst.adminKubeconfig}`,
      `--txt-owner-id=${OWNER}`,
      '--txt-prefix=%{record_type}-own.',
      `--domain-filter=${zoneName}`,
      '--policy=sync',
    ]);
    expect(run.code, run.output).toBe(0);
  }, 120_000);
  afterAll(() => bind?.stop());

  it('the dns-operator with the guide flags leaves the zone as it was: same records, same serial', async () => {
    const records = async () =>
      (await provider.records(zone)).sort((a, b) =>
        `${a.name}/${a.type}`.localeCompare(`${b.name}/${b.type}`),
      );
    const before = await records();
    // external-dns wrote them: the TLS wildcard host, TTL 0 where none was asked (its RFC2136
    // default), the TXT names its prefix template gives.
    expect(before.map((r) => `${r.name} ${r.type} ${r.ttl}`)).toEqual(
      expect.arrayContaining([
        `*.apps.${zoneName} A 60`,
        `a-own.*.apps.${zoneName} TXT 0`,
        `blog.${zoneName} CNAME 0`,
        `static.${zoneName} A 0`,
      ]),
    );
    const soa = await serial();
    await copyDnsEndpoints(inst);
    const r = await runOperator(
      [
        '--provider=rfc2136',
        `--rfc2136-host=${bind.host}`,
        `--rfc2136-port=${bind.port}`,
        `--rfc2136-zone=${zoneName}`,
        `--rfc2136-tsig-keyname=${bind.tsig.name}`,
        '--rfc2136-tsig-secret-alg=hmac-sha1',
        '--source=ingress,dnsendpoint',
        `--namespace=${inst.ns}`,
        `--txt-owner-id=${OWNER}`,
        '--txt-prefix=%{record_type}-own.',
        `--domain-filter=${zoneName}`,
        '--annotation-prefix=external-dns.kubernetes.io/',
        `--kubeconfig=${inst.operatorKubeconfig}`,
        '--once',
      ],
      { CHOUSEI_DNS_RFC2136_TSIG_SECRET: bind.tsig.secret, POD_NAMESPACE: STATE.namespace },
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await serial()).toBe(soa);
    expect(await records()).toEqual(before);
  });
});
