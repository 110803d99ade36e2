import { Client, InvalidError } from '@chousei/runtime';
import { sharedCluster } from '@chousei/testenv/vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import { CRDS } from '../src/api/crds.js';
import { parseDuration } from '../src/api/duration.js';
import { Certificates, ClusterIssuers, Issuers } from '../src/api/types.js';
import { validateCertificate } from '../src/webhook/validation.js';

describe('cert-operator CRDs', () => {
  let client: Client;
  let ns: string;
  beforeAll(async () => {
    const cluster = await sharedCluster();
    await cluster.apply(CRDS);
    ns = await cluster.createNamespace('crds');
    client = new Client(cluster.kubeConfig);
  });

  const refused = async (p: Promise<unknown>, field: RegExp) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InvalidError);
    expect((err as InvalidError).message).toMatch(field);
  };

  it('accepts valid objects of every kind, as cert-manager manifests are shaped', async () => {
    await client.create(Certificates, {
      metadata: { name: 'web', namespace: ns },
      spec: {
        secretName: 'web-tls',
        issuerRef: { name: 'letsencrypt', kind: 'ClusterIssuer' },
        dnsNames: ['web.example.com', '*.web.example.com'],
        duration: '2160h',
        renewBefore: '360h',
        privateKey: { algorithm: 'RSA', size: 2048, rotationPolicy: 'Always' },
        usages: ['digital signature', 'key encipherment', 'server auth'],
      },
    });
    await client.create(ClusterIssuers, {
      metadata: { name: 'letsencrypt' },
      spec: {
        acme: {
          server: 'https://acme.example.com/directory',
          email: 'ops@example.com',
          privateKeySecretRef: { name: 'le-account' },
          solvers: [
            { http01: { ingress: { ingressClassName: 'nginx' } } },
            {
              selector: { dnsZones: ['example.com'] },
              dns01: { rfc2136: { nameserver: '10.0.0.53:53' } },
            },
          ],
        },
      },
    });
    await client.create(Issuers, {
      metadata: { name: 'self', namespace: ns },
      spec: { selfSigned: {} },
    });
  });

  it('refuses what the schema can tell is wrong, naming the field', async () => {
    const base = { secretName: 's', issuerRef: { name: 'i' } };
    await refused(
      client.create(Certificates, { metadata: { name: 'a', namespace: ns }, spec: { ...base } }),
      /at least one of commonName, dnsNames or ipAddresses/,
    );
    await refused(
      client.create(Certificates, {
        metadata: { name: 'b', namespace: ns },
        spec: { ...base, dnsNames: ['Bad_Name'] },
      }),
      /spec\.dnsNames\[0\]/,
    );
    await refused(
      client.create(Certificates, {
        metadata: { name: 'c', namespace: ns },
        spec: { ...base, dnsNames: ['x.example.com'], duration: '90 days' },
      }),
      /spec\.duration/,
    );
    await refused(
      client.create(Certificates, {
        metadata: { name: 'd', namespace: ns },
        spec: {
          ...base,
          dnsNames: ['x.example.com'],
          privateKey: { algorithm: 'ECDSA', size: 2048 },
        },
      }),
      /spec\.privateKey\.size.*256 or 384 for ECDSA/,
    );
    await refused(
      client.create(Issuers, {
        metadata: { name: 'two', namespace: ns },
        spec: { selfSigned: {}, ca: { secretName: 'x' } },
      }),
      /exactly one of acme, ca or selfSigned/,
    );
    await refused(
      client.create(Issuers, {
        metadata: { name: 'http', namespace: ns },
        spec: {
          acme: { server: 'http://insecure', privateKeySecretRef: { name: 'k' }, solvers: [{}] },
        },
      }),
      /spec\.acme\.server/,
    );
  });

  it('parses Go durations', () => {
    expect(parseDuration('2160h')).toBe(2160 * 3_600_000);
    expect(parseDuration('1h30m')).toBe(90 * 60_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('90 days')).toBeUndefined();
    expect(parseDuration('')).toBeUndefined();
  });

  it('refuses a duration over 64 characters and a DNS name over 253 unread, quoting at most 100', () => {
    const long = `${'1'.repeat(64)}h`;
    expect(parseDuration(long.slice(1))).toBe(Number('1'.repeat(63)) * 3_600_000);
    expect(parseDuration(long)).toBeUndefined();
    const errors = validateCertificate({
      apiVersion: 'cert.chousei.dev/v1',
      kind: 'Certificate',
      metadata: { name: 'c', namespace: 'n' },
      spec: {
        secretName: 's',
        dnsNames: ['a'.repeat(254)],
        issuerRef: { name: 'i' },
        duration: long,
      },
    }).errors;
    expect(errors).toEqual([
      {
        field: 'spec.dnsNames[0]',
        message: `"${'a'.repeat(100)}"... (254 characters): at most 253 characters`,
      },
      { field: 'spec.duration', message: 'has 65 characters; a duration has at most 64' },
    ]);
  });
});
