// What each source makes of one object: names, endpoints by target kind, and errors
// naming the field, with the valid rest still published.
import type { Ingress, Service } from '@chousei/runtime';
import { describe, expect, it } from 'vitest';
import type { DNSEndpoint, DNSEndpointRecord } from '../src/api/dnsendpoint.js';
import {
  annotationFilter,
  annotationPrefixes,
  dnsEndpointEndpoints,
  domainFilter,
  findAnnotation,
  hostnameError,
  ingressClassMatches,
  ingressEndpoints,
  intersectHostnames,
  parseTTL,
  readAnnotations,
  serviceEndpoints,
} from '../src/sources/index.js';

type LB = Array<{ ip?: string; hostname?: string }>;

function ingress(
  hosts: Array<string | undefined>,
  lb: LB = [{ ip: '192.0.2.10' }],
  annotations: Record<string, string> = {},
): Ingress {
  return {
    metadata: { name: 'web', namespace: 'default', annotations },
    spec: { rules: hosts.map((host) => (host === undefined ? {} : { host })) },
    status: { loadBalancer: { ingress: lb } },
  };
}

function service(
  annotations: Record<string, string>,
  lb: LB = [{ ip: '192.0.2.20' }],
  type = 'LoadBalancer',
): Service {
  return {
    metadata: { name: 'svc', namespace: 'default', annotations },
    spec: { type, ports: [{ port: 443 }] },
    status: { loadBalancer: { ingress: lb } },
  };
}

function dnsEndpoint(endpoints: DNSEndpointRecord[]): DNSEndpoint {
  return {
    apiVersion: 'dns.chousei.dev/v1alpha1',
    kind: 'DNSEndpoint',
    metadata: { name: 'records', namespace: 'default' },
    spec: { endpoints },
  };
}

describe('annotations', () => {
  it('reads all three prefixes, ours first, then external-dns, then external-dns alpha', () => {
    const withAll = ingress([], [], {
      'external-dns.alpha.kubernetes.io/ttl': '30',
      'external-dns.kubernetes.io/ttl': '60',
      'dns.chousei.dev/ttl': '90',
    });
    expect(readAnnotations(withAll).values.ttl).toBe(90);
    expect(findAnnotation(withAll, 'ttl')?.key).toBe('dns.chousei.dev/ttl');

    const withoutOurs = ingress([], [], {
      'external-dns.alpha.kubernetes.io/ttl': '30',
      'external-dns.kubernetes.io/ttl': '60',
    });
    expect(readAnnotations(withoutOurs).values.ttl).toBe(60);

    const alphaOnly = ingress([], [], { 'external-dns.alpha.kubernetes.io/ttl': '30' });
    expect(readAnnotations(alphaOnly).values.ttl).toBe(30);
    expect(findAnnotation(alphaOnly, 'hostname')).toBeUndefined();
  });

  it('precedence is per key: a key under our prefix does not hide others under external-dns', () => {
    const obj = ingress([], [{ ip: '192.0.2.1' }], {
      'dns.chousei.dev/ttl': '120',
      'external-dns.alpha.kubernetes.io/hostname': 'old.example.com',
    });
    const result = ingressEndpoints(obj);
    expect(result.endpoints).toEqual([
      { name: 'old.example.com', type: 'A', targets: ['192.0.2.1'], ttl: 120 },
    ]);
  });

  it('parses TTLs as seconds or durations', () => {
    expect(parseTTL('300')).toEqual({ ttl: 300 });
    expect(parseTTL(' 90s ')).toEqual({ ttl: 90 });
    expect(parseTTL('5m')).toEqual({ ttl: 300 });
    expect(parseTTL('1h')).toEqual({ ttl: 3600 });
    expect(parseTTL('1h30m')).toEqual({ ttl: 5400 });
    expect(parseTTL('2147483647')).toEqual({ ttl: 2147483647 });
    for (const bad of ['0', '0s', '-5', '1.5', '10ms', 'abc', '', '2147483648', '1d']) {
      expect(parseTTL(bad), bad).toHaveProperty('error');
    }
  });

  it('reports a bad TTL under the exact key found, and publishes with the default TTL', () => {
    const obj = ingress(['a.example.com'], [{ ip: '192.0.2.1' }], {
      'external-dns.alpha.kubernetes.io/ttl': 'soon',
    });
    const result = ingressEndpoints(obj);
    expect(result.errors).toEqual([
      {
        field: 'metadata.annotations[external-dns.alpha.kubernetes.io/ttl]',
        message: expect.stringMatching(/duration like 90s/),
      },
    ]);
    expect(result.endpoints).toEqual([
      { name: 'a.example.com', type: 'A', targets: ['192.0.2.1'] },
    ]);

    const tooBig = readAnnotations(ingress([], [], { 'dns.chousei.dev/ttl': '9999999999' }));
    expect(tooBig.errors[0]?.field).toBe('metadata.annotations[dns.chousei.dev/ttl]');
    expect(tooBig.errors[0]?.message).toMatch(/from 1 to 2147483647/);
  });

  it('reports bad hostname-source and alias values', () => {
    const { values, errors } = readAnnotations(
      ingress([], [], {
        'dns.chousei.dev/ingress-hostname-source': 'everything',
        'external-dns.kubernetes.io/alias': 'yes',
      }),
    );
    expect(values).toEqual({ hostnameSource: 'all' });
    expect(errors.map((e) => e.field)).toEqual([
      'metadata.annotations[dns.chousei.dev/ingress-hostname-source]',
      'metadata.annotations[external-dns.kubernetes.io/alias]',
    ]);
  });
});

describe('validate', () => {
  it('accepts RFC 1123 names, wildcards and underscore labels', () => {
    for (const ok of [
      'example.com',
      'a-b.example.com',
      '*.example.com',
      '_sip._tcp.example.com',
      `${'x'.repeat(63)}.example.com`,
      'localhost',
      // 253 characters: the longest name.
      `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`,
    ]) {
      expect(hostnameError(ok), ok).toBeUndefined();
    }
    for (const bad of [
      '',
      '-a.example.com',
      'a-.example.com',
      'a..example.com',
      'a b.example.com',
      'a.*.example.com',
      '*',
      `${'x'.repeat(64)}.example.com`,
      // 254 characters: one over the limit.
      `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`,
    ]) {
      expect(hostnameError(bad), bad).toBeDefined();
    }
    expect(hostnameError('*.example.com', { wildcard: false })).toMatch(/wildcard/);
  });
});

describe('ingressEndpoints', () => {
  it('publishes rule hosts at the load balancer: IPv4 -> A, IPv6 -> AAAA', () => {
    const result = ingressEndpoints(
      ingress(
        ['www.example.com', undefined, 'API.Example.com', 'www.example.com'],
        [{ ip: '192.0.2.10' }, { ip: '2001:DB8:0:0::1' }, { ip: '192.0.2.10' }],
      ),
    );
    expect(result.errors).toEqual([]);
    expect(result.names).toEqual(['www.example.com', 'api.example.com']);
    expect(result.endpoints).toEqual([
      { name: 'www.example.com', type: 'A', targets: ['192.0.2.10'] },
      { name: 'www.example.com', type: 'AAAA', targets: ['2001:db8::1'] },
      { name: 'api.example.com', type: 'A', targets: ['192.0.2.10'] },
      { name: 'api.example.com', type: 'AAAA', targets: ['2001:db8::1'] },
    ]);
  });

  it('publishes a load balancer hostname as a CNAME, or an alias when asked', () => {
    const lb = [{ hostname: 'abc.elb.amazonaws.com' }];
    expect(ingressEndpoints(ingress(['www.example.com'], lb)).endpoints).toEqual([
      { name: 'www.example.com', type: 'CNAME', targets: ['abc.elb.amazonaws.com'] },
    ]);
    const aliased = ingressEndpoints(
      ingress(['www.example.com'], lb, { 'external-dns.alpha.kubernetes.io/alias': 'true' }),
    );
    expect(aliased.endpoints).toEqual([
      { name: 'www.example.com', type: 'CNAME', targets: ['abc.elb.amazonaws.com'], alias: true },
    ]);
  });

  it('prefers the address of a status entry that has both', () => {
    const result = ingressEndpoints(
      ingress(['www.example.com'], [{ ip: '192.0.2.7', hostname: 'lb.example.net' }]),
    );
    expect(result.endpoints).toEqual([
      { name: 'www.example.com', type: 'A', targets: ['192.0.2.7'] },
    ]);
  });

  it('reports a CNAME with several hostname targets, or beside addresses', () => {
    const two = ingressEndpoints(
      ingress(['www.example.com'], [{ hostname: 'a.example.net' }, { hostname: 'b.example.net' }]),
    );
    expect(two.endpoints).toEqual([]);
    expect(two.names).toEqual(['www.example.com']);
    expect(two.errors).toEqual([
      {
        field: 'status.loadBalancer.ingress',
        message: expect.stringMatching(/CNAME takes one target/),
      },
    ]);

    const mixed = ingressEndpoints(
      ingress(['www.example.com'], [{ ip: '192.0.2.1' }, { hostname: 'a.example.net' }]),
    );
    expect(mixed.endpoints).toEqual([
      { name: 'www.example.com', type: 'A', targets: ['192.0.2.1'] },
    ]);
    expect(mixed.errors[0]?.field).toBe('status.loadBalancer.ingress');
  });

  it('adds the hostname annotation, tolerating whitespace, collapsing duplicates', () => {
    const result = ingressEndpoints(
      ingress(['www.example.com'], [{ ip: '192.0.2.1' }], {
        'external-dns.alpha.kubernetes.io/hostname': ' extra.example.com ,www.example.com., ,',
      }),
    );
    expect(result.errors).toEqual([]);
    expect(result.names).toEqual(['www.example.com', 'extra.example.com']);
    expect(result.endpoints.map((e) => e.name)).toEqual(['www.example.com', 'extra.example.com']);
  });

  it('selects names by ingress-hostname-source', () => {
    const annotations = { 'dns.chousei.dev/hostname': 'annotated.example.com' };
    const names = (mode?: string) =>
      ingressEndpoints(
        ingress(['rule.example.com'], undefined, {
          ...annotations,
          ...(mode ? { 'external-dns.alpha.kubernetes.io/ingress-hostname-source': mode } : {}),
        }),
      ).names;
    expect(names()).toEqual(['rule.example.com', 'annotated.example.com']);
    expect(names('defined-hosts-only')).toEqual(['rule.example.com']);
    expect(names('annotation-only')).toEqual(['annotated.example.com']);
    // The hostname annotation can be switched off by the operator.
    expect(
      ingressEndpoints(ingress(['rule.example.com'], undefined, annotations), {
        ignoreHostnameAnnotation: true,
      }).names,
    ).toEqual(['rule.example.com']);
  });

  it('does not report the hostname annotation when it is not used', () => {
    const result = ingressEndpoints(
      ingress(['rule.example.com'], undefined, {
        'dns.chousei.dev/hostname': 'bad_host!.example.com',
        'dns.chousei.dev/ingress-hostname-source': 'defined-hosts-only',
      }),
    );
    expect(result.errors).toEqual([]);
  });

  it('overrides the status targets with the target annotation', () => {
    const result = ingressEndpoints(
      ingress(['www.example.com'], [{ ip: '192.0.2.10' }], {
        'external-dns.kubernetes.io/target': '198.51.100.1, 198.51.100.2',
        'dns.chousei.dev/ttl': '5m',
      }),
    );
    expect(result.endpoints).toEqual([
      { name: 'www.example.com', type: 'A', targets: ['198.51.100.1', '198.51.100.2'], ttl: 300 },
    ]);

    const cname = ingressEndpoints(
      ingress(['www.example.com'], [], { 'dns.chousei.dev/target': 'Edge.Example.NET.' }),
    );
    expect(cname.endpoints).toEqual([
      { name: 'www.example.com', type: 'CNAME', targets: ['edge.example.net'] },
    ]);
  });

  it('lists names but publishes nothing while the load balancer status is empty', () => {
    for (const lb of [[], [{}]] as LB[]) {
      const result = ingressEndpoints(ingress(['www.example.com', 'api.example.com'], lb));
      expect(result).toEqual({
        endpoints: [],
        errors: [],
        names: ['www.example.com', 'api.example.com'],
      });
    }
    const noStatus: Ingress = {
      metadata: { name: 'x' },
      spec: { rules: [{ host: 'a.example.com' }] },
    };
    expect(ingressEndpoints(noStatus)).toEqual({
      endpoints: [],
      errors: [],
      names: ['a.example.com'],
    });
  });

  it('reports invalid hosts by rule index and publishes the rest', () => {
    const result = ingressEndpoints(
      ingress(
        ['ok.example.com', undefined, 'bad_-.example.com', '-x.example.com'],
        [{ ip: '192.0.2.1' }],
      ),
    );
    expect(result.errors.map((e) => e.field)).toEqual(['spec.rules[2].host', 'spec.rules[3].host']);
    expect(result.names).toEqual(['ok.example.com']);
    expect(result.endpoints).toEqual([
      { name: 'ok.example.com', type: 'A', targets: ['192.0.2.1'] },
    ]);
  });

  it('reports an invalid annotated hostname under its key', () => {
    const result = ingressEndpoints(
      ingress([], [{ ip: '192.0.2.1' }], {
        'external-dns.kubernetes.io/hostname': 'good.example.com,not valid.example.com',
      }),
    );
    expect(result.errors).toEqual([
      {
        field: 'metadata.annotations[external-dns.kubernetes.io/hostname]',
        message: expect.stringContaining('not valid.example.com'),
      },
    ]);
    expect(result.names).toEqual(['good.example.com']);
  });

  it('ignores a hostname or target list over 256 items whole, with one error', () => {
    const names = Array.from({ length: 257 }, (_, i) => `n${i}.example.com`).join(',');
    const result = ingressEndpoints(
      ingress(['app.example.com'], [{ ip: '192.0.2.1' }], {
        'dns.chousei.dev/hostname': names,
        'dns.chousei.dev/target': names,
      }),
    );
    expect(result.errors.map((e) => `${e.field} ${e.message}`)).toEqual([
      'metadata.annotations[dns.chousei.dev/target] lists 257 items, over the 256 allowed: ignored',
      'metadata.annotations[dns.chousei.dev/hostname] lists 257 items, over the 256 allowed: ignored',
    ]);
    expect(result.names).toEqual(['app.example.com']);
    expect(result.endpoints.map((e) => e.targets)).toEqual([['192.0.2.1']]);
  });

  it('reports invalid targets by field and publishes the valid ones', () => {
    const fromStatus = ingressEndpoints(
      ingress(['www.example.com'], [{ ip: '192.0.2.1' }, { hostname: 'bad host' }]),
    );
    expect(fromStatus.errors.map((e) => e.field)).toEqual([
      'status.loadBalancer.ingress[1].hostname',
    ]);
    expect(fromStatus.endpoints).toEqual([
      { name: 'www.example.com', type: 'A', targets: ['192.0.2.1'] },
    ]);

    const fromAnnotation = ingressEndpoints(
      ingress(['www.example.com'], [], {
        'external-dns.alpha.kubernetes.io/target': '192.0.2.1,300.1.1.1x,*.example.net',
      }),
    );
    expect(fromAnnotation.errors.map((e) => e.field)).toEqual([
      'metadata.annotations[external-dns.alpha.kubernetes.io/target]',
      'metadata.annotations[external-dns.alpha.kubernetes.io/target]',
    ]);
    expect(fromAnnotation.endpoints).toEqual([
      { name: 'www.example.com', type: 'A', targets: ['192.0.2.1'] },
    ]);
  });
});

describe('difference 1: Ingress spec.tls hosts publish, as external-dns reads them', () => {
  const withTls = (annotations: Record<string, string> = {}): Ingress => ({
    ...ingress(['www.example.com'], [{ ip: '192.0.2.10' }], annotations),
    spec: {
      rules: [{ host: 'www.example.com' }],
      tls: [
        { hosts: ['www.example.com', 'secure.example.com'], secretName: 'a' },
        { hosts: ['', '*.apps.example.com', 'bad..example.com'], secretName: 'b' },
      ],
    },
  });

  it('publishes the TLS hosts beside the rules, at the same targets', () => {
    const result = ingressEndpoints(withTls());
    expect(result.names).toEqual(['www.example.com', 'secure.example.com', '*.apps.example.com']);
    expect(result.endpoints.map((e) => `${e.name} ${e.type}`)).toEqual([
      'www.example.com A',
      'secure.example.com A',
      '*.apps.example.com A',
    ]);
    expect(result.errors.map((e) => e.field)).toEqual(['spec.tls[1].hosts[2]']);
  });

  it('counts them as defined hosts (ingress-hostname-source), and leaves them with --ignore-ingress-tls-spec', () => {
    const annotationOnly = withTls({
      'external-dns.kubernetes.io/ingress-hostname-source': 'annotation-only',
    });
    expect(ingressEndpoints(annotationOnly).names).toEqual([]);
    expect(ingressEndpoints(withTls(), { ignoreIngressTlsSpec: true }).names).toEqual([
      'www.example.com',
    ]);
  });
});

describe('difference 4: --annotation-prefix, the one prefix external-dns then reads', () => {
  const annotated = ingress([], [{ ip: '192.0.2.10' }], {
    'internal.example.com/hostname': 'internal.example.com',
    'external-dns.kubernetes.io/hostname': 'public.example.com',
    'dns.chousei.dev/ttl': '90',
  });

  it("reads only that prefix, so operators split by prefix never read each other's", () => {
    const result = ingressEndpoints(annotated, {
      annotationPrefixes: annotationPrefixes('internal.example.com/'),
    });
    expect(result.names).toEqual(['internal.example.com']);
    expect(result.endpoints).toEqual([
      { name: 'internal.example.com', type: 'A', targets: ['192.0.2.10'] },
    ]);
  });

  it('reads ours, then external-dns.kubernetes.io/, then the alpha prefix without it', () => {
    const result = ingressEndpoints(annotated);
    expect(result.names).toEqual(['public.example.com']);
    expect(result.endpoints[0]?.ttl).toBe(90);
  });
});

describe('serviceEndpoints', () => {
  const hostname = { 'external-dns.alpha.kubernetes.io/hostname': 'svc.example.com' };

  it('publishes a LoadBalancer Service under its hostname annotation', () => {
    const result = serviceEndpoints(
      service({ ...hostname, 'external-dns.alpha.kubernetes.io/ttl': '60' }, [
        { ip: '192.0.2.20' },
        { ip: '2001:db8::20' },
      ]),
    );
    expect(result).toEqual({
      endpoints: [
        { name: 'svc.example.com', type: 'A', targets: ['192.0.2.20'], ttl: 60 },
        { name: 'svc.example.com', type: 'AAAA', targets: ['2001:db8::20'], ttl: 60 },
      ],
      errors: [],
      names: ['svc.example.com'],
    });
  });

  it('uses a load balancer hostname, the target annotation and alias like an Ingress', () => {
    expect(
      serviceEndpoints(
        service({ ...hostname, 'dns.chousei.dev/alias': 'true' }, [
          { hostname: 'nlb.example.net' },
        ]),
      ).endpoints,
    ).toEqual([
      { name: 'svc.example.com', type: 'CNAME', targets: ['nlb.example.net'], alias: true },
    ]);
    expect(
      serviceEndpoints(service({ ...hostname, 'dns.chousei.dev/target': '203.0.113.5' })).endpoints,
    ).toEqual([{ name: 'svc.example.com', type: 'A', targets: ['203.0.113.5'] }]);
  });

  it('ignores Services of other types, and has no names without the annotation', () => {
    for (const type of ['ClusterIP', 'NodePort', 'ExternalName']) {
      expect(serviceEndpoints(service(hostname, undefined, type))).toEqual({
        endpoints: [],
        errors: [],
        names: [],
      });
    }
    expect(serviceEndpoints(service({})).names).toEqual([]);
    expect(serviceEndpoints(service(hostname), { ignoreHostnameAnnotation: true }).names).toEqual(
      [],
    );
  });

  it('lists names without endpoints while pending, and reports bad input by field', () => {
    expect(serviceEndpoints(service(hostname, []))).toEqual({
      endpoints: [],
      errors: [],
      names: ['svc.example.com'],
    });
    const result = serviceEndpoints(
      service({
        'external-dns.kubernetes.io/hostname': 'a.example.com,-bad.example.com',
        'external-dns.kubernetes.io/ttl': '0',
      }),
    );
    expect(result.errors.map((e) => e.field)).toEqual([
      'metadata.annotations[external-dns.kubernetes.io/hostname]',
      'metadata.annotations[external-dns.kubernetes.io/ttl]',
    ]);
    expect(result.endpoints).toEqual([
      { name: 'a.example.com', type: 'A', targets: ['192.0.2.20'] },
    ]);
  });
});

describe('dnsEndpointEndpoints', () => {
  it('normalises every record type to the record model', () => {
    const result = dnsEndpointEndpoints(
      dnsEndpoint([
        {
          dnsName: 'Foo.Example.com.',
          recordType: 'A',
          recordTTL: 180,
          targets: ['192.0.2.1', '192.0.2.1'],
        },
        { dnsName: 'foo.example.com', recordType: 'AAAA', targets: ['2001:DB8::0:1'] },
        { dnsName: 'www.example.com', recordType: 'CNAME', targets: ['LB.example.net.'] },
        { dnsName: 'example.com', recordType: 'TXT', targets: ['"v=spf1 -all"', 'Case Kept.'] },
        {
          dnsName: '_sip._tcp.example.com',
          recordType: 'SRV',
          targets: ['10 5 5060 SIP.example.com.', '020 0 5061 sip2.example.com.'],
        },
        { dnsName: 'example.com', recordType: 'MX', targets: ['10 Mail.Example.com.'] },
      ]),
    );
    expect(result.errors).toEqual([]);
    expect(result.names).toEqual([
      'foo.example.com',
      'www.example.com',
      'example.com',
      '_sip._tcp.example.com',
    ]);
    expect(result.endpoints).toEqual([
      { name: 'foo.example.com', type: 'A', targets: ['192.0.2.1'], ttl: 180 },
      { name: 'foo.example.com', type: 'AAAA', targets: ['2001:db8::1'] },
      { name: 'www.example.com', type: 'CNAME', targets: ['lb.example.net'] },
      { name: 'example.com', type: 'TXT', targets: ['"v=spf1 -all"', 'Case Kept.'] },
      {
        name: '_sip._tcp.example.com',
        type: 'SRV',
        targets: ['10 5 5060 sip.example.com', '20 0 5061 sip2.example.com'],
      },
      { name: 'example.com', type: 'MX', targets: ['10 mail.example.com'] },
    ]);
  });

  it('finding 4: says each thing once: "SRV target host ...", not "SRV target SRV target ..."', () => {
    const result = dnsEndpointEndpoints(
      dnsEndpoint([
        {
          dnsName: '_sip._tcp.example.com',
          recordType: 'SRV',
          targets: ['10 5 5060 sip.example.com', '10 5 x sip.example.com.'],
        },
        { dnsName: 'example.com', recordType: 'MX', targets: ['10 mail.example.com'] },
        { dnsName: 'a.example.com', recordType: 'A', targets: ['2001:db8::1'] },
        { dnsName: 'bad-', recordType: 'A', targets: ['192.0.2.1'] },
      ]),
    );
    expect(result.errors.map((e) => `${e.field}: ${e.message}`)).toEqual([
      'spec.endpoints[0].targets[0]: SRV target host "sip.example.com" must be an absolute name ending in a dot',
      'spec.endpoints[0].targets[1]: SRV target "10 5 x sip.example.com." must be "priority weight port target." with numbers from 0 to 65535, e.g. "10 5 443 sip.example.com."',
      'spec.endpoints[1].targets[0]: MX target exchange "mail.example.com" must be an absolute name ending in a dot',
      'spec.endpoints[2].targets[0]: A target "2001:db8::1" must be an IPv4 address',
      // A one-label name is not named twice ("bad-" label "bad-").
      `spec.endpoints[3].dnsName: "bad-" must consist of a-z, 0-9, '-' or '_' and must not start or end with '-'`,
    ]);
  });

  it('requires absolute SRV and MX targets, naming the target', () => {
    const result = dnsEndpointEndpoints(
      dnsEndpoint([
        {
          dnsName: '_sip._tcp.example.com',
          recordType: 'SRV',
          targets: ['10 5 5060 sip.example.com.', '10 5 5060 sip.example.com'],
        },
        { dnsName: 'example.com', recordType: 'MX', targets: ['10 mail.example.com'] },
        { dnsName: 'ok.example.com', recordType: 'A', targets: ['192.0.2.1'] },
      ]),
    );
    expect(result.errors).toEqual([
      {
        field: 'spec.endpoints[0].targets[1]',
        message: expect.stringMatching(/SRV target host .*absolute name ending in a dot/),
      },
      {
        field: 'spec.endpoints[1].targets[0]',
        message: expect.stringMatching(/MX target exchange .*ending in a dot/),
      },
    ]);
    expect(result.endpoints).toEqual([
      { name: 'ok.example.com', type: 'A', targets: ['192.0.2.1'] },
    ]);
    // Names with a bad target still count, so their records are kept rather than withdrawn.
    expect(result.names).toEqual(['_sip._tcp.example.com', 'example.com', 'ok.example.com']);
  });

  it('checks SRV and MX numbers and shape', () => {
    const result = dnsEndpointEndpoints(
      dnsEndpoint([
        {
          dnsName: '_a._tcp.example.com',
          recordType: 'SRV',
          targets: ['10 5 70000 sip.example.com.'],
        },
        { dnsName: '_b._tcp.example.com', recordType: 'SRV', targets: ['sip.example.com.'] },
        { dnsName: 'example.com', recordType: 'MX', targets: ['high mail.example.com.'] },
        { dnsName: 'example.org', recordType: 'MX', targets: ['10 .'] },
      ]),
    );
    expect(result.errors.map((e) => e.field)).toEqual([
      'spec.endpoints[0].targets[0]',
      'spec.endpoints[1].targets[0]',
      'spec.endpoints[2].targets[0]',
      'spec.endpoints[3].targets[0]',
    ]);
    expect(result.endpoints).toEqual([]);
  });

  it('reports what the CRD would refuse, leaving out only the bad endpoints', () => {
    const result = dnsEndpointEndpoints(
      dnsEndpoint([
        { dnsName: 'a.example.com', recordType: 'A', targets: ['2001:db8::1'] },
        { dnsName: 'b.example.com', recordType: 'AAAA', targets: ['192.0.2.1'] },
        {
          dnsName: 'c.example.com',
          recordType: 'CNAME',
          targets: ['x.example.net', 'y.example.net'],
        },
        { dnsName: 'd.example.com', recordType: 'PTR' as 'A', targets: ['x.example.net'] },
        { dnsName: 'e.example.com', recordType: 'A', recordTTL: -1, targets: ['192.0.2.1'] },
        { dnsName: 'bad name', recordType: 'A', targets: ['192.0.2.1'] },
        { dnsName: 'g.example.com', recordType: 'A', targets: [] },
        { dnsName: 'h.example.com', recordType: 'CNAME', targets: ['*.example.net'] },
        { dnsName: 'ok.example.com', recordType: 'TXT', targets: ['hello'] },
        // What a schemaless older CRD could let through.
        { dnsName: 'i.example.com', recordType: 'A', targets: [42 as unknown as string] },
      ]),
    );
    expect(result.errors.map((e) => e.field)).toEqual([
      'spec.endpoints[0].targets[0]',
      'spec.endpoints[1].targets[0]',
      'spec.endpoints[2].targets',
      'spec.endpoints[3].recordType',
      'spec.endpoints[4].recordTTL',
      'spec.endpoints[5].dnsName',
      'spec.endpoints[6].targets',
      'spec.endpoints[7].targets[0]',
      'spec.endpoints[9].targets[0]',
    ]);
    expect(result.errors[2]?.message).toMatch(/CNAME record takes exactly one target/);
    expect(result.endpoints).toEqual([{ name: 'ok.example.com', type: 'TXT', targets: ['hello'] }]);
    expect(result.names).not.toContain('bad name');
  });

  it('reports a record set listed twice and keeps the first', () => {
    const result = dnsEndpointEndpoints(
      dnsEndpoint([
        { dnsName: 'a.example.com', recordType: 'A', targets: ['192.0.2.1'] },
        { dnsName: 'A.example.com.', recordType: 'A', targets: ['192.0.2.2'] },
      ]),
    );
    expect(result.errors).toEqual([
      { field: 'spec.endpoints[1]', message: expect.stringContaining('spec.endpoints[0]') },
    ]);
    expect(result.endpoints).toEqual([
      { name: 'a.example.com', type: 'A', targets: ['192.0.2.1'] },
    ]);
  });

  it('has nothing to say about an empty spec', () => {
    expect(dnsEndpointEndpoints(dnsEndpoint([]))).toEqual({ endpoints: [], errors: [], names: [] });
    expect(dnsEndpointEndpoints({ spec: {} })).toEqual({ endpoints: [], errors: [], names: [] });
  });
});

describe('intersectHostnames (a route hostname against a listener hostname)', () => {
  it.each([
    ['web.example.com', 'web.example.com', 'web.example.com'],
    ['web.example.com', 'Web.Example.com.', 'web.example.com'],
    ['web.example.com', 'api.example.com', undefined],
    // Wildcards match one or more labels, either side; the more specific name wins.
    ['*.example.com', 'a.b.example.com', 'a.b.example.com'],
    ['a.example.com', '*.example.com', 'a.example.com'],
    ['*.example.com', '*.apps.example.com', '*.apps.example.com'],
    ['*.apps.example.com', '*.example.com', '*.apps.example.com'],
    ['*.example.com', 'example.com', undefined],
    ['*.ab.com', 'x.ab.com', 'x.ab.com'],
    ['*.example.com', 'badexample.com', undefined],
    // No hostname: the other side's; neither: nothing to publish.
    ['', 'web.example.com', 'web.example.com'],
    ['*.example.com', '', '*.example.com'],
    ['', '', undefined],
  ])('listener %j, route %j: %j', (listener, route, want) => {
    expect(intersectHostnames(listener, route)).toBe(want);
  });
});

describe('filters', () => {
  it('matches ingress classes by spec.ingressClassName, then the legacy annotation', () => {
    const byName: Ingress = { spec: { ingressClassName: 'nginx' } };
    const byAnnotation: Ingress = {
      metadata: { annotations: { 'kubernetes.io/ingress.class': 'traefik' } },
    };
    const both: Ingress = {
      metadata: { annotations: { 'kubernetes.io/ingress.class': 'traefik' } },
      spec: { ingressClassName: 'nginx' },
    };
    const none: Ingress = { spec: {} };
    expect(ingressClassMatches(byName, ['nginx'])).toBe(true);
    expect(ingressClassMatches(byName, ['traefik'])).toBe(false);
    expect(ingressClassMatches(byAnnotation, ['traefik', 'nginx'])).toBe(true);
    expect(ingressClassMatches(both, ['traefik'])).toBe(false);
    expect(ingressClassMatches(none, ['nginx'])).toBe(false);
    for (const ing of [byName, byAnnotation, both, none]) {
      expect(ingressClassMatches(ing, [])).toBe(true);
    }
  });

  it('filters on annotations with label selector syntax', () => {
    const obj = (annotations?: Record<string, string>) => ({ metadata: { annotations } });
    const filter = annotationFilter('team=web, env!=dev, dns.chousei.dev/publish');
    expect(filter(obj({ team: 'web', env: 'prod', 'dns.chousei.dev/publish': '' }))).toBe(true);
    expect(filter(obj({ team: 'web', 'dns.chousei.dev/publish': 'yes' }))).toBe(true);
    expect(filter(obj({ team: 'web', env: 'dev', 'dns.chousei.dev/publish': '' }))).toBe(false);
    expect(filter(obj({ team: 'api', 'dns.chousei.dev/publish': '' }))).toBe(false);
    expect(filter(obj({ team: 'web' }))).toBe(false);
    expect(filter(obj())).toBe(false);
    expect(annotationFilter('!private')(obj({ private: 'true' }))).toBe(false);
    expect(annotationFilter('team==web')(obj({ team: 'web' }))).toBe(true);
    expect(annotationFilter('')(obj())).toBe(true);
  });

  it('matches names equal to or under included domains, exclusions winning', () => {
    const filter = domainFilter({
      include: ['example.com', 'Example.ORG.'],
      exclude: ['internal.example.com'],
    });
    expect(filter('example.com')).toBe(true);
    expect(filter('www.example.com')).toBe(true);
    expect(filter('WWW.example.org.')).toBe(true);
    expect(filter('*.example.com')).toBe(true);
    expect(filter('badexample.com')).toBe(false);
    expect(filter('example.net')).toBe(false);
    expect(filter('internal.example.com')).toBe(false);
    expect(filter('db.internal.example.com')).toBe(false);
    expect(filter('notinternal.example.com')).toBe(true);

    const everything = domainFilter();
    expect(everything('anything.example.net')).toBe(true);
    const excludeOnly = domainFilter({ exclude: ['example.com'] });
    expect(excludeOnly('example.net')).toBe(true);
    expect(excludeOnly('a.example.com')).toBe(false);
  });
});
