// The plan step of docs/migration-from-external-dns.md, after a real external-dns v0.22
// (built by testenv) published a BIND9 zone: Ingress rules and TLS hosts, a DNSEndpoint, a
// TXT prefix template, hmac-sha1. `kubectl chousei dns plan` with the flags the guide names
// lists the deletes of a DNSEndpoint not yet copied (and that the operator would hold them),
// then, once it is copied, says "No changes". The operator itself taking such zones over is
// operators/dns-operator/test/migration.test.ts.
import { DNSEndpoints, dnsEndpointCRD } from '@chousei/dns-operator';
import { Client, Ingresses, type KubeObject, resourceType } from '@chousei/runtime';
import { type Bind9, externalDnsCrd, externalDnsOnce, startBind9 } from '@chousei/testenv';
import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlanReport } from '../src/dns/plan.js';
import { type Kubectl, pluginKubectl } from './kubectl.js';

const ExternalDnsEndpoints = resourceType<KubeObject & { spec: unknown }>(
  'externaldns.k8s.io/v1alpha1',
  'DNSEndpoint',
  'dnsendpoints',
  true,
);
const OWNER = 'ext-plan';

describe("the migration guide's plan after external-dns v0.22 (BIND9)", () => {
  const zone = `plan-${Math.random().toString(36).slice(2, 7)}.test`;
  let bind: Bind9;
  let client: Client;
  let ns: string;
  let kubectl: Kubectl;
  /** The guide's command: the flags external-dns ran with, under the operator's names. */
  let plan: (output?: string[]) => ReturnType<Kubectl>;

  beforeAll(async () => {
    bind = await startBind9({ zones: [zone], algorithm: 'hmac-sha1' });
    const cluster = await sharedCluster();
    await cluster.apply([await externalDnsCrd(), dnsEndpointCRD]);
    ns = await cluster.createNamespace('plan-migration');
    client = new Client(cluster.kubeConfig);
    const kubeconfig = await cluster.writeKubeconfig(cluster.kubeConfig, `kubeconfig-${ns}`);
    kubectl = await pluginKubectl();

    await client.create(Ingresses, {
      metadata: { name: 'web', namespace: ns },
      spec: {
        rules: [{ host: `www.${zone}` }],
        tls: [{ hosts: [`www.${zone}`, `*.apps.${zone}`], secretName: 'web-tls' }],
      },
    });
    await client.patchStatus(
      Ingresses,
      { namespace: ns, name: 'web' },
      { type: 'merge', patch: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.60' }] } } } },
    );
    await client.create(ExternalDnsEndpoints, {
      metadata: { name: 'records', namespace: ns },
      spec: {
        endpoints: [{ dnsName: `static.${zone}`, recordType: 'A', targets: ['192.0.2.61'] }],
      },
    });
    const rfc2136 = (secret: string[]) => [
      `--rfc2136-host=${bind.host}`,
      `--rfc2136-port=${bind.port}`,
      `--rfc2136-zone=${zone}`,
      `--rfc2136-tsig-keyname=${bind.tsig.name}`,
      ...secret,
      '--rfc2136-tsig-secret-alg=hmac-sha1',
      `--txt-owner-id=${OWNER}`,
      '--txt-prefix=%{record_type}-own.',
      `--domain-filter=${zone}`,
      `--namespace=${ns}`,
      `--kubeconfig=${kubeconfig}`,
    ];
    const run = await externalDnsOnce([
      '--provider=rfc2136',
      ...rfc2136([`--rfc2136-tsig-secret=${bind.tsig.secret}`]),
      '--rfc2136-axfr',
      '--source=ingress',
      '--source=crd',
      '--policy=sync',
    ]);
    expect(run.code, run.output).toBe(0);
    plan = (output = []) =>
      kubectl(
        [
          'chousei',
          'dns',
          'plan',
          '--provider=rfc2136',
          ...rfc2136([]),
          '--source=ingress,dnsendpoint',
          '--annotation-prefix=external-dns.kubernetes.io/',
          ...output,
        ],
        { CHOUSEI_DNS_RFC2136_TSIG_SECRET: bind.tsig.secret },
      );
  }, 120_000);
  afterAll(() => bind?.stop());

  it('lists the deletes of a DNSEndpoint not copied yet, and that the operator would hold them', async () => {
    const r = await plan(['-o', 'json']);
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout) as PlanReport;
    expect(report.changes.map((c) => `${c.action} ${c.name} ${c.type}`)).toEqual([
      `delete static.${zone} A`,
      `delete a-own.static.${zone} TXT`,
    ]);
    expect(report.warnings).toContainEqual({
      object: 'ConfigMap chousei-dns-operator-first-sync',
      reason: 'DeletesHeld',
      message: expect.stringContaining(`deletes of 1 of the 3 records owned there`),
    });
  });

  it('says "No changes" once the DNSEndpoint is copied, as the guide expects', async () => {
    const [ep] = await client.list(ExternalDnsEndpoints, { namespace: ns });
    await client.create(DNSEndpoints, {
      metadata: { name: ep?.metadata?.name ?? '', namespace: ns },
      spec: ep?.spec as never,
    });
    const r = await plan();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\nNo changes: the zones already match the cluster\.\n$/);
  });
});
