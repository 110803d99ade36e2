// The DNSEndpoint CRD against a real kube-apiserver: it is accepted, takes external-dns
// manifests as they are, and refuses what cannot be published, naming the field.
import { Client, InvalidError } from '@chousei/runtime';
import { sharedCluster } from '@chousei/testenv/vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type DNSEndpoint,
  type DNSEndpointRecord,
  type DNSEndpointRecordType,
  DNSEndpoints,
  dnsEndpointCRD,
} from '../src/api/dnsendpoint.js';

let client: Client;
let namespace: string;

beforeAll(async () => {
  const cluster = await sharedCluster();
  await cluster.apply([dnsEndpointCRD]);
  namespace = await cluster.createNamespace('dnsep');
  client = new Client(cluster.kubeConfig);
});

let seq = 0;
function dnsEndpoint(endpoints: DNSEndpointRecord[]): DNSEndpoint {
  return {
    apiVersion: DNSEndpoints.apiVersion,
    kind: 'DNSEndpoint',
    metadata: { name: `ep-${++seq}`, namespace },
    spec: { endpoints },
  };
}

/** The InvalidError a create is refused with. */
async function refused(endpoints: DNSEndpointRecord[]): Promise<InvalidError> {
  const err = await client.create(DNSEndpoints, dnsEndpoint(endpoints)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InvalidError);
  return err as InvalidError;
}

describe('DNSEndpoint CRD', () => {
  it('accepts an external-dns manifest as written, with every record type', async () => {
    // The shape of external-dns's docs/sources/crd examples, apiVersion changed.
    const created = await client.create(
      DNSEndpoints,
      dnsEndpoint([
        {
          dnsName: 'foo.example.com',
          recordTTL: 180,
          recordType: 'A',
          targets: ['192.0.2.10', '192.0.2.11'],
          labels: { team: 'web' },
          providerSpecific: [{ name: 'aws/evaluate-target-health', value: 'true' }],
          setIdentifier: 'eu-west-1',
        },
        { dnsName: 'foo.example.com', recordType: 'AAAA', targets: ['2001:db8::1'] },
        { dnsName: 'www.example.com', recordType: 'CNAME', targets: ['lb.example.net'] },
        { dnsName: '*.apps.example.com.', recordType: 'CNAME', targets: ['lb.example.net.'] },
        {
          dnsName: 'example.com',
          recordType: 'TXT',
          targets: ['v=spf1 include:_spf.example.net ~all', '"quoted, with comma"'],
        },
        {
          dnsName: '_sip._tcp.example.com',
          recordType: 'SRV',
          recordTTL: 300,
          targets: ['10 5 5060 sip1.example.com.', '20 5 5060 sip2.example.com.'],
        },
        { dnsName: 'example.com', recordType: 'MX', targets: ['10 mail.example.com.'] },
      ]),
    );
    expect(created.metadata?.uid).toBeTruthy();
    expect(created.spec.endpoints).toHaveLength(7);
    expect(created.spec.endpoints?.[0]?.providerSpecific).toEqual([
      { name: 'aws/evaluate-target-health', value: 'true' },
    ]);

    // The status subresource takes the per-endpoint report.
    const withStatus = await client.updateStatus(DNSEndpoints, {
      ...created,
      status: {
        observedGeneration: created.metadata?.generation,
        endpoints: [
          { dnsName: 'foo.example.com', recordType: 'A', published: true, reason: 'Published' },
        ],
      },
    });
    expect(withStatus.status?.endpoints?.[0]?.published).toBe(true);
  });

  it('refuses an SRV target that is not absolute, naming the field', async () => {
    const err = await refused([
      {
        dnsName: '_sip._tcp.example.com',
        recordType: 'SRV',
        targets: ['10 5 5060 sip.example.com'],
      },
    ]);
    expect(err.causes.map((c) => c.field)).toContain('spec.endpoints[0].targets');
    expect(err.message).toContain('spec.endpoints[0].targets');
    expect(err.message).toMatch(/absolute name ending in a dot/);
  });

  it('refuses an MX target without the trailing dot', async () => {
    const err = await refused([
      { dnsName: 'example.com', recordType: 'MX', targets: ['10 mail.example.com'] },
    ]);
    expect(err.causes.map((c) => c.field)).toContain('spec.endpoints[0].targets');
    expect(err.message).toMatch(/MX targets must be/);
  });

  it('refuses a CNAME with two targets', async () => {
    const err = await refused([
      { dnsName: 'ok.example.com', recordType: 'A', targets: ['192.0.2.1'] },
      {
        dnsName: 'www.example.com',
        recordType: 'CNAME',
        targets: ['a.example.net', 'b.example.net'],
      },
    ]);
    expect(err.causes.map((c) => c.field)).toEqual(['spec.endpoints[1].targets']);
    expect(err.message).toMatch(/CNAME record takes exactly one target/);
  });

  it('refuses an unknown record type', async () => {
    const err = await refused([
      {
        dnsName: 'www.example.com',
        recordType: 'PTR' as DNSEndpointRecordType,
        targets: ['x.example.com'],
      },
    ]);
    expect(err.causes.map((c) => c.field)).toContain('spec.endpoints[0].recordType');
    expect(err.message).toContain('spec.endpoints[0].recordType');
    expect(err.message).toMatch(/supported values/);
  });

  it('refuses a negative TTL and a TTL beyond 32 bits', async () => {
    const negative = await refused([
      { dnsName: 'www.example.com', recordType: 'A', recordTTL: -60, targets: ['192.0.2.1'] },
    ]);
    expect(negative.causes.map((c) => c.field)).toContain('spec.endpoints[0].recordTTL');
    expect(negative.message).toMatch(/spec\.endpoints\[0\]\.recordTTL.*greater than or equal to 1/);

    const huge = await refused([
      { dnsName: 'www.example.com', recordType: 'A', recordTTL: 2 ** 31, targets: ['192.0.2.1'] },
    ]);
    expect(huge.causes.map((c) => c.field)).toContain('spec.endpoints[0].recordTTL');
  });

  it('refuses addresses of the wrong family, bad names and empty targets', async () => {
    const a = await refused([
      { dnsName: 'a.example.com', recordType: 'A', targets: ['2001:db8::1'] },
    ]);
    expect(a.message).toMatch(/spec\.endpoints\[0\]\.targets.*A targets must be IPv4/);

    const aaaa = await refused([
      { dnsName: 'a.example.com', recordType: 'AAAA', targets: ['192.0.2.1'] },
    ]);
    expect(aaaa.message).toMatch(/AAAA targets must be IPv6/);

    const name = await refused([
      { dnsName: 'bad name.example.com', recordType: 'A', targets: ['192.0.2.1'] },
    ]);
    expect(name.causes.map((c) => c.field)).toContain('spec.endpoints[0].dnsName');

    const empty = await refused([{ dnsName: 'a.example.com', recordType: 'A', targets: [] }]);
    expect(empty.causes.map((c) => c.field)).toContain('spec.endpoints[0].targets');
  });
});
