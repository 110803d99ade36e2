import { mkdtemp, rm } from 'node:fs/promises';
import { type RequestOptions, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AdmissionRequest,
  ApiError,
  Client,
  ForbiddenError,
  InvalidError,
  type KubeObject,
  Namespaces,
  silentLogger,
  type WebhookServer,
} from '@chousei/runtime';
import { createCA, issueCert, type KeyPair } from '@chousei/testenv';
import { sharedCluster } from '@chousei/testenv/vitest';
import { AdmissionregistrationV1Api, ApiException, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRDS } from '../src/api/crds.js';
import {
  type Certificate,
  type CertificateSpec,
  Certificates,
  ClusterIssuers,
  GROUP,
  type Issuer,
  type IssuerSpec,
  Issuers,
  VERSION,
} from '../src/api/types.js';
import { parseConfig } from '../src/config.js';
import {
  CERTIFICATE_WEBHOOK_PATH,
  CLUSTER_ISSUER_WEBHOOK_PATH,
  certificateAdmission,
  certWebhook,
  type FieldError,
  ISSUER_WEBHOOK_PATH,
  issuerAdmission,
  validateCertificate,
  validateIssuer,
  webhookConfiguration,
} from '../src/webhook/index.js';

const cert = (spec: Partial<CertificateSpec>): Certificate => ({
  metadata: { name: 'c' },
  spec: {
    secretName: 'c-tls',
    issuerRef: { name: 'ca', kind: 'ClusterIssuer' },
    dnsNames: ['web.example.com'],
    ...spec,
  },
});
/** The errors of a Certificate spec, as `field: message` lines. */
const certErrors = (spec: Partial<CertificateSpec>) =>
  validateCertificate(cert(spec)).errors.map((e) => `${e.field}: ${e.message}`);
const fields = (errors: FieldError[]) => errors.map((e) => e.field);

const acme = (extra: Partial<NonNullable<IssuerSpec['acme']>> = {}): IssuerSpec => ({
  acme: {
    server: 'https://acme.example.com/directory',
    email: 'ops@example.com',
    privateKeySecretRef: { name: 'account' },
    solvers: [{ http01: { ingress: {} } }],
    ...extra,
  },
});
const issuerErrors = (spec: unknown, kind: 'Issuer' | 'ClusterIssuer' = 'Issuer') =>
  validateIssuer({ metadata: { name: 'i' }, spec }, kind).map((e) => `${e.field}: ${e.message}`);
type Solver = NonNullable<IssuerSpec['acme']>['solvers'][number];
const solverErrors = (solver: Solver) => issuerErrors(acme({ solvers: [solver] }));
const rfc2136 = (
  rfc: Partial<NonNullable<NonNullable<Solver['dns01']>['rfc2136']>>,
  /** null: no selector at all. */
  zones: string[] | null = ['example.com'],
): Solver => ({
  ...(zones ? { selector: { dnsZones: zones } } : {}),
  dns01: { rfc2136: { nameserver: '10.0.0.53:53', ...rfc } },
});

describe('validateCertificate', () => {
  it('accepts a complete, consistent Certificate without warnings', () => {
    expect(
      validateCertificate(
        cert({
          commonName: 'web.example.com',
          dnsNames: ['web.example.com', '*.web.example.com'],
          ipAddresses: ['10.0.0.1', '2001:db8::1'],
          duration: '2160h',
          renewBefore: '360h',
          privateKey: { algorithm: 'RSA', size: 4096 },
          usages: ['digital signature', 'key encipherment', 'server auth'],
          issuerRef: { name: 'le', kind: 'ClusterIssuer', group: 'cert-manager.io' },
        }),
      ),
    ).toEqual({ errors: [], warnings: [] });
    expect(certErrors({ issuerRef: { name: 'x', group: GROUP } })).toEqual([]);
    expect(certErrors({ issuerRef: { name: 'x', group: '' } })).toEqual([]);
  });

  it('refuses a renewBefore not shorter than the duration, also the default one', () => {
    expect(certErrors({ duration: '2h', renewBefore: '2h' })).toEqual([
      'spec.renewBefore: 2h must be shorter than spec.duration (2h): the certificate would always be due for renewal',
    ]);
    expect(fields(validateCertificate(cert({ duration: '2h', renewBefore: '3h' })).errors)).toEqual(
      ['spec.renewBefore'],
    );
    expect(certErrors({ duration: '2h', renewBefore: '119m' })).toEqual([]);
    // No duration: the default 90 days (2160h) is what renewBefore must stay under.
    expect(certErrors({ renewBefore: '2160h' })).toEqual([
      'spec.renewBefore: 2160h must be shorter than the default duration (2160h): the certificate would always be due for renewal',
    ]);
    expect(certErrors({ renewBefore: '2159h' })).toEqual([]);
  });

  it("follows cert-manager's minimums: duration 1h, renewBefore 5m", () => {
    expect(certErrors({ duration: '30m' })).toEqual([
      'spec.duration: 30m is shorter than the minimum certificate duration, 1h',
    ]);
    expect(certErrors({ duration: '59m59s' })).toHaveLength(1);
    expect(certErrors({ duration: '1h' })).toEqual([]);
    expect(certErrors({ duration: '60m', renewBefore: '5m' })).toEqual([]);
    expect(certErrors({ renewBefore: '4m' })).toEqual([
      'spec.renewBefore: 4m is shorter than the minimum, 5m',
    ]);
    // Both, and the comparison, at once.
    expect(
      fields(validateCertificate(cert({ duration: '90s', renewBefore: '85s' })).errors),
    ).toEqual(['spec.duration', 'spec.renewBefore']);
  });

  it('reports unparsable durations (CRDs without the pattern) without comparing them', () => {
    expect(certErrors({ duration: '90 days', renewBefore: '1h' })).toEqual([
      'spec.duration: "90 days" is not a duration such as 2160h or 90m',
    ]);
    expect(certErrors({ renewBefore: 'soon' })).toEqual([
      'spec.renewBefore: "soon" is not a duration such as 2160h or 90m',
    ]);
  });

  it('refuses invalid IP addresses and duplicates, compared canonically', () => {
    expect(
      certErrors({
        ipAddresses: ['999.1.1.1', '10.0.0.1', 'fe80::1%eth0', 'localhost', '01.2.3.4'],
      }),
    ).toEqual([
      'spec.ipAddresses[0]: "999.1.1.1" is not an IP address',
      'spec.ipAddresses[2]: "fe80::1%eth0" is not an IP address',
      'spec.ipAddresses[3]: "localhost" is not an IP address',
      'spec.ipAddresses[4]: "01.2.3.4" is not an IP address',
    ]);
    expect(certErrors({ ipAddresses: ['::1', '10.0.0.1', '0:0:0::1', '10.0.0.1'] })).toEqual([
      'spec.ipAddresses[2]: duplicate of spec.ipAddresses[0] ("::1")',
      'spec.ipAddresses[3]: duplicate of spec.ipAddresses[1] ("10.0.0.1")',
    ]);
    // IP addresses alone are enough names.
    expect(certErrors({ dnsNames: [], ipAddresses: ['192.0.2.1'] })).toEqual([]);
  });

  it('allows a wildcard only as the whole first label, and once', () => {
    expect(
      certErrors({
        dnsNames: ['a.*.example.com', '*.*.example.com', '*foo.example.com', '*', '*.example.com'],
      }),
    ).toEqual([
      'spec.dnsNames[0]: "a.*.example.com": a wildcard must be the whole first label, as in *.example.com',
      'spec.dnsNames[1]: "*.*.example.com" has 2 wildcards; at most one, as the first label',
      'spec.dnsNames[2]: "*foo.example.com": a wildcard must be the whole first label, as in *.example.com',
      'spec.dnsNames[3]: "*": a wildcard needs a domain under it, as in *.example.com',
    ]);
  });

  it('refuses duplicate DNS names, whatever their case', () => {
    expect(certErrors({ dnsNames: ['a.example.com', 'b.example.com', 'A.example.com'] })).toEqual([
      'spec.dnsNames[2]: duplicate of spec.dnsNames[0] ("A.example.com")',
    ]);
  });

  it('refuses a long commonName, and only warns when it is not among the SANs', () => {
    const long = `${'a'.repeat(60)}.com.x`;
    expect(certErrors({ commonName: long, dnsNames: [long] })).toEqual([
      'spec.commonName: must be at most 64 characters; it has 66',
    ]);
    const stray = validateCertificate(cert({ commonName: 'other.example.com' }));
    expect(stray.errors).toEqual([]);
    expect(stray.warnings).toEqual([
      {
        field: 'spec.commonName',
        message:
          '"other.example.com" is not among spec.dnsNames or spec.ipAddresses: clients ignore the common name when the certificate has alternative names',
      },
    ]);
    const ok = (spec: Partial<CertificateSpec>) => validateCertificate(cert(spec)).warnings;
    expect(ok({ commonName: 'WEB.example.com' })).toEqual([]);
    expect(ok({ commonName: '2001:db8:0::1', dnsNames: [], ipAddresses: ['2001:db8::1'] })).toEqual(
      [],
    );
    // Without SANs the common name is the name.
    expect(ok({ commonName: 'only.example.com', dnsNames: [] })).toEqual([]);
  });

  it('refuses an issuerRef group the operator does not serve', () => {
    expect(certErrors({ issuerRef: { name: 'x', group: 'example.com' } })).toEqual([
      'spec.issuerRef.group: "example.com" is not an issuer group this operator serves: use cert.chousei.dev or cert-manager.io, or leave it unset',
    ]);
  });

  it('checks the key size against the algorithm, ECDSA when none is given', () => {
    expect(certErrors({ privateKey: { algorithm: 'ECDSA', size: 2048 } })).toEqual([
      'spec.privateKey.size: 2048 is not a key size for ECDSA: use 256 or 384',
    ]);
    expect(certErrors({ privateKey: { algorithm: 'RSA', size: 384 } })).toEqual([
      'spec.privateKey.size: 384 is not a key size for RSA: use 2048 or 3072 or 4096',
    ]);
    expect(certErrors({ privateKey: { algorithm: 'Ed25519', size: 256 } })).toEqual([
      'spec.privateKey.size: must be unset for Ed25519, whose keys have one size',
    ]);
    // The CRD's CEL rule lets a size without an algorithm through; the controller makes it ECDSA.
    expect(certErrors({ privateKey: { size: 4096 } })).toEqual([
      'spec.privateKey.size: 4096 is not a key size for ECDSA (the default algorithm): use 256 or 384',
    ]);
    expect(certErrors({ privateKey: { size: 384 } })).toEqual([]);
    expect(certErrors({ privateKey: { algorithm: 'Ed25519' } })).toEqual([]);
  });

  it('refuses duplicate usages', () => {
    expect(certErrors({ usages: ['server auth', 'client auth', 'server auth'] })).toEqual([
      'spec.usages[2]: duplicate of spec.usages[0] ("server auth")',
    ]);
  });

  it('reports every problem at once, and survives objects a loose schema let through', () => {
    expect(
      fields(
        validateCertificate(
          cert({ duration: '30m', ipAddresses: ['999.1.1.1'], dnsNames: ['a.*.example.com'] }),
        ).errors,
      ),
    ).toEqual(['spec.dnsNames[0]', 'spec.ipAddresses[0]', 'spec.duration']);
    expect(validateCertificate({}).errors).toEqual([{ field: 'spec', message: 'required' }]);
    expect(validateCertificate(null).errors).toEqual([{ field: 'spec', message: 'required' }]);
    const loose = { spec: { dnsNames: 'a.example.com', ipAddresses: [1], duration: 3600 } };
    expect(validateCertificate(loose).errors).toEqual([
      { field: 'spec.issuerRef', message: 'required' },
      { field: 'spec.dnsNames', message: 'must be a list' },
      { field: 'spec.ipAddresses[0]', message: 'must be a string' },
      {
        field: 'spec',
        message: 'at least one of commonName, dnsNames or ipAddresses is required',
      },
      { field: 'spec.duration', message: 'must be a string' },
    ]);
  });
});

describe('validateIssuer', () => {
  it('accepts each issuer kind and every solver shape the operator supports', () => {
    expect(issuerErrors({ selfSigned: {} })).toEqual([]);
    expect(issuerErrors({ ca: { secretName: 'root' } }, 'ClusterIssuer')).toEqual([]);
    expect(
      issuerErrors(
        acme({
          externalAccountBinding: { keyID: 'kid-1', keySecretRef: { name: 'eab' } },
          solvers: [
            { http01: { ingress: { ingressClassName: 'nginx' } } },
            rfc2136({ tsigKeyName: 'key.', tsigSecretSecretRef: { name: 'tsig' } }),
            rfc2136({ nameserver: '[2001:db8::53]:5353' }),
            rfc2136({ nameserver: 'ns1.example.com' }),
            {
              dns01: {
                route53: {
                  region: 'eu-west-1',
                  accessKeyIDSecretRef: { name: 'aws', key: 'id' },
                  secretAccessKeySecretRef: { name: 'aws', key: 'secret' },
                },
              },
            },
            { dns01: { route53: { region: 'eu-west-1' } } },
            {
              dns01: {
                pdns: {
                  server: 'https://pdns.dns.svc:8081',
                  serverID: 'localhost',
                  apiKeySecretRef: { name: 'pdns' },
                  nameserver: 'pdns.dns.svc:53',
                },
              },
            },
            {
              selector: { dnsZones: ['example.org'] },
              dns01: { webhook: { url: 'http://localhost:8888' } },
            },
          ],
        }),
      ),
    ).toEqual([]);
  });

  it('refuses mixed issuer kinds, and none, naming the kind', () => {
    expect(issuerErrors({ ...acme(), selfSigned: {} })).toEqual([
      'spec: issuer kinds mixed: a Issuer has exactly one of acme, ca or selfSigned, not acme and selfSigned',
    ]);
    expect(issuerErrors({}, 'ClusterIssuer')).toEqual([
      'spec: a ClusterIssuer needs exactly one of acme, ca or selfSigned',
    ]);
  });

  it('requires an https ACME server URL that parses', () => {
    const server = (s: string) => issuerErrors(acme({ server: s }));
    expect(server('http://acme.example.com/directory')).toEqual([
      'spec.acme.server: "http://acme.example.com/directory" is not an https URL; ACME directories are served over TLS',
    ]);
    expect(server('https://')).toEqual(['spec.acme.server: "https://" is not a URL']);
    expect(server('https://acme example.com/')).toEqual([
      'spec.acme.server: "https://acme example.com/" is not a URL',
    ]);
    expect(server('https://127.0.0.1:14000/dir')).toEqual([]);
  });

  it('checks the email syntax', () => {
    for (const email of ['ops', 'ops@', '@example.com', 'o ps@example.com', 'ops@exa_mple.com']) {
      expect(issuerErrors(acme({ email }))).toEqual([
        `spec.acme.email: ${JSON.stringify(email)} is not an email address`,
      ]);
    }
    expect(issuerErrors(acme({ email: 'first.last+tag@sub.example.co.uk' }))).toEqual([]);
  });

  it('requires a non-empty external account binding keyID', () => {
    expect(
      issuerErrors(acme({ externalAccountBinding: { keyID: '  ', keySecretRef: { name: 'e' } } })),
    ).toEqual(['spec.acme.externalAccountBinding.keyID: must not be empty']);
  });

  it('requires exactly one of http01 or dns01 per solver, and one DNS provider', () => {
    expect(solverErrors({ http01: {}, dns01: { route53: {} } })).toEqual([
      'spec.acme.solvers[0]: exactly one of http01 or dns01 must be set, not both',
    ]);
    expect(solverErrors({ selector: { dnsZones: ['example.com'] } })).toEqual([
      'spec.acme.solvers[0]: exactly one of http01 or dns01 must be set',
    ]);
    expect(solverErrors({ dns01: { selfCheck: false } })).toEqual([
      'spec.acme.solvers[0].dns01: exactly one provider (rfc2136, route53, pdns or webhook) must be set',
    ]);
    expect(
      solverErrors({
        selector: { dnsZones: ['example.com'] },
        dns01: { rfc2136: { nameserver: '10.0.0.53' }, route53: {} },
      }),
    ).toEqual([
      'spec.acme.solvers[0].dns01: exactly one provider must be set; it has rfc2136 and route53',
    ]);
    expect(issuerErrors(acme({ solvers: [] }))).toEqual([
      'spec.acme.solvers: at least one solver is required',
    ]);
  });

  it('routes an HTTP-01 challenge one way: an Ingress or an HTTPRoute (gatewayHTTPRoute), not both', () => {
    expect(
      solverErrors({
        http01: {
          ingress: { ingressClassName: 'nginx' },
          gatewayHTTPRoute: { parentRefs: [{ name: 'gw' }] },
        },
      }),
    ).toEqual([
      'spec.acme.solvers[0].http01: set ingress or gatewayHTTPRoute, not both: a challenge is routed one way',
    ]);
    expect(
      solverErrors({ http01: { gatewayHTTPRoute: { parentRefs: [{ name: 'gw' }] } } }),
    ).toEqual([]);
  });

  it('checks rfc2136 nameservers are host[:port]', () => {
    const ns = (nameserver: string) => solverErrors(rfc2136({ nameserver }));
    for (const good of [
      '10.0.0.53',
      '10.0.0.53:53',
      ' 10.0.0.53:53 ',
      'ns1.example.com:5353',
      'ns1.example.com.',
      'localhost',
      '[2001:db8::53]',
      '[2001:db8::53]:53',
    ]) {
      expect(ns(good), good).toEqual([]);
    }
    const at = 'spec.acme.solvers[0].dns01.rfc2136.nameserver';
    expect(ns('2001:db8::53')).toEqual([
      `${at}: "2001:db8::53": put an IPv6 address in brackets, as [2001:db8::53]:53`,
    ]);
    expect(ns('999.1.1.1:53')).toEqual([
      `${at}: "999.1.1.1:53": "999.1.1.1" is neither an IP address nor a host name`,
    ]);
    expect(ns('ns_1.example.com')).toEqual([
      `${at}: "ns_1.example.com": "ns_1.example.com" is neither an IP address nor a host name`,
    ]);
    expect(ns('[10.0.0.53]:53')).toEqual([
      `${at}: "[10.0.0.53]:53": only an IPv6 address goes in brackets`,
    ]);
    expect(ns(':53')).toEqual([
      `${at}: ":53" names no host; write host or host:port, as 10.0.0.53:53 or [2001:db8::53]:53`,
    ]);
    for (const port of ['0', '65536', 'dns', '']) {
      expect(ns(`10.0.0.53:${port}`)).toEqual([
        `${at}: "10.0.0.53:${port}": the port must be a number from 1 to 65535`,
      ]);
    }
    expect(ns('   ')).toEqual([`${at}: required`]);
  });

  it('requires a pdns server URL and API key Secret, and checks its nameserver', () => {
    const at = 'spec.acme.solvers[0].dns01.pdns';
    // As a client may send it: the types say the fields are required, the webhook checks it.
    const empty = {} as NonNullable<NonNullable<Solver['dns01']>['pdns']>;
    expect(solverErrors({ dns01: { pdns: empty } })).toEqual([
      `${at}.server: required`,
      `${at}.apiKeySecretRef: required`,
    ]);
    expect(
      solverErrors({
        dns01: {
          pdns: { server: 'pdns:8081', apiKeySecretRef: { name: 'k' }, nameserver: '10.0.0.1:x' },
        },
      }),
    ).toEqual([
      `${at}.server: "pdns:8081" is not an http or https URL`,
      `${at}.nameserver: "10.0.0.1:x": the port must be a number from 1 to 65535`,
    ]);
  });

  it('requires a webhook provider URL, and checks its nameserver', () => {
    const at = 'spec.acme.solvers[0].dns01.webhook';
    const empty = {} as NonNullable<NonNullable<Solver['dns01']>['webhook']>;
    expect(solverErrors({ dns01: { webhook: empty } })).toEqual([`${at}.url: required`]);
    expect(
      solverErrors({ dns01: { webhook: { url: 'localhost:8888', nameserver: '[::1' } } }),
    ).toEqual([
      `${at}.url: "localhost:8888" is not an http or https URL`,
      `${at}.nameserver: "[::1": put an IPv6 address in brackets, as [2001:db8::53]:53`,
    ]);
  });

  it('requires tsigKeyName and tsigSecretSecretRef together', () => {
    const at = 'spec.acme.solvers[0].dns01.rfc2136';
    expect(solverErrors(rfc2136({ tsigKeyName: 'key.' }))).toEqual([
      `${at}.tsigSecretSecretRef: required when tsigKeyName is set`,
    ]);
    expect(solverErrors(rfc2136({ tsigSecretSecretRef: { name: 'tsig' } }))).toEqual([
      `${at}.tsigKeyName: required when tsigSecretSecretRef is set`,
    ]);
  });

  it('accepts an rfc2136 solver without selector.dnsZones: it finds zones by SOA', () => {
    expect(issuerErrors(acme({ solvers: [{ http01: {} }, rfc2136({}, null)] }))).toEqual([]);
    expect(issuerErrors(acme({ solvers: [{ http01: {} }, rfc2136({}, [])] }))).toEqual([]);
  });

  it('requires the route53 key id and secret key together', () => {
    const at = 'spec.acme.solvers[0].dns01.route53';
    expect(solverErrors({ dns01: { route53: { accessKeyIDSecretRef: { name: 'a' } } } })).toEqual([
      `${at}.secretAccessKeySecretRef: required when accessKeyIDSecretRef is set`,
    ]);
    expect(
      solverErrors({ dns01: { route53: { secretAccessKeySecretRef: { name: 'a' } } } }),
    ).toEqual([`${at}.accessKeyIDSecretRef: required when secretAccessKeySecretRef is set`]);
  });
});

function admissionRequest(
  object: KubeObject | null,
  extra: Partial<AdmissionRequest<unknown>> = {},
): AdmissionRequest<unknown> {
  return {
    uid: 'u1',
    kind: { group: GROUP, version: VERSION, kind: 'Certificate' },
    resource: { group: GROUP, version: VERSION, resource: 'certificates' },
    name: object?.metadata?.name ?? '',
    namespace: 'ns',
    operation: 'CREATE',
    userInfo: { username: 'tester' },
    object,
    ...extra,
  };
}

describe('admission handlers', () => {
  const certificates = certificateAdmission(silentLogger);

  it('deny with every cause at once, and pass warnings on', async () => {
    const bad = cert({
      commonName: 'other.example.com',
      duration: '30m',
      ipAddresses: ['999.1.1.1'],
    });
    expect(await certificates(admissionRequest(bad))).toEqual({
      allowed: false,
      warnings: [
        'spec.commonName: "other.example.com" is not among spec.dnsNames or spec.ipAddresses: clients ignore the common name when the certificate has alternative names',
      ],
      status: {
        code: 403,
        reason: 'Forbidden',
        message:
          'Certificate c is invalid: spec.ipAddresses[0]: "999.1.1.1" is not an IP address, spec.duration: 30m is shorter than the minimum certificate duration, 1h',
        details: {
          causes: [
            {
              field: 'spec.ipAddresses[0]',
              message: '"999.1.1.1" is not an IP address',
              reason: 'FieldValueInvalid',
            },
            {
              field: 'spec.duration',
              message: '30m is shorter than the minimum certificate duration, 1h',
              reason: 'FieldValueInvalid',
            },
          ],
        },
      },
    });
    const stray = cert({ commonName: 'other.example.com' });
    expect(await certificates(admissionRequest(stray))).toEqual({
      allowed: true,
      warnings: [expect.stringMatching(/^spec\.commonName: "other\.example\.com" is not among/)],
    });
    expect(await certificates(admissionRequest(cert({})))).toEqual({ allowed: true });
  });

  it('lets an UPDATE through when the spec did not change, with the problems as warnings', async () => {
    // A Certificate stored before the webhook: its finalizer must still come off.
    const legacy = cert({ duration: '90s', renewBefore: '85s' });
    const withLabel = { ...legacy, metadata: { ...legacy.metadata, labels: { a: 'b' } } };
    const result = await certificates(
      admissionRequest(withLabel, { operation: 'UPDATE', oldObject: legacy }),
    );
    expect(result.allowed).toBe(true);
    expect(result.warnings).toEqual([
      'spec.duration: 90s is shorter than the minimum certificate duration, 1h (left alone: the spec did not change)',
      'spec.renewBefore: 85s is shorter than the minimum, 5m (left alone: the spec did not change)',
    ]);
    const changed = { ...legacy, spec: { ...legacy.spec, duration: '100s' } };
    expect(
      (await certificates(admissionRequest(changed, { operation: 'UPDATE', oldObject: legacy })))
        .allowed,
    ).toBe(false);
    const deleting = {
      ...changed,
      metadata: { ...changed.metadata, deletionTimestamp: '2025-01-01T00:00:00Z' },
    };
    expect(
      (await certificates(admissionRequest(deleting, { operation: 'UPDATE', oldObject: legacy })))
        .allowed,
    ).toBe(true);
  });

  it('names the issuer kind in the denial', async () => {
    const handler = issuerAdmission('ClusterIssuer', silentLogger);
    const issuer: Issuer = {
      metadata: { name: 'le' },
      spec: acme({ solvers: [rfc2136({ nameserver: '10.0.0.53:0', tsigKeyName: 'k.' }, null)] }),
    };
    const result = await handler(admissionRequest(issuer));
    expect(result.status?.message).toBe(
      'ClusterIssuer le is invalid: spec.acme.solvers[0].dns01.rfc2136.nameserver: "10.0.0.53:0": the port must be a number from 1 to 65535, spec.acme.solvers[0].dns01.rfc2136.tsigSecretSecretRef: required when tsigKeyName is set',
    );
  });
});

describe('webhookConfiguration', () => {
  it('points the three rules at the server by URL or by Service', () => {
    const byUrl = webhookConfiguration({
      caBundlePem: 'PEM',
      url: 'https://127.0.0.1:9443/',
      namespaceSelector: { matchLabels: { a: 'b' } },
    });
    expect(byUrl.metadata?.name).toBe('chousei-cert-operator');
    expect(byUrl.webhooks?.map((w) => [w.name, w.clientConfig.url])).toEqual([
      ['certificates.cert.chousei.dev', `https://127.0.0.1:9443${CERTIFICATE_WEBHOOK_PATH}`],
      ['issuers.cert.chousei.dev', `https://127.0.0.1:9443${ISSUER_WEBHOOK_PATH}`],
      ['clusterissuers.cert.chousei.dev', `https://127.0.0.1:9443${CLUSTER_ISSUER_WEBHOOK_PATH}`],
    ]);
    expect(byUrl.webhooks?.[0]).toEqual({
      name: 'certificates.cert.chousei.dev',
      clientConfig: {
        url: 'https://127.0.0.1:9443/validate-certificate',
        caBundle: Buffer.from('PEM').toString('base64'),
      },
      rules: [
        {
          apiGroups: ['cert.chousei.dev'],
          apiVersions: ['v1alpha1'],
          operations: ['CREATE', 'UPDATE'],
          resources: ['certificates'],
          scope: 'Namespaced',
        },
      ],
      failurePolicy: 'Fail',
      sideEffects: 'None',
      timeoutSeconds: 5,
      admissionReviewVersions: ['v1'],
      namespaceSelector: { matchLabels: { a: 'b' } },
    });
    // ClusterIssuers have no namespace to select by.
    expect(byUrl.webhooks?.[2]?.namespaceSelector).toBeUndefined();
    expect(byUrl.webhooks?.[2]?.rules?.[0]?.scope).toBe('Cluster');

    const bySvc = webhookConfiguration({
      caBundlePem: 'PEM',
      service: { namespace: 'cert-operator', name: 'cert-operator-webhook' },
    });
    expect(bySvc.webhooks?.[1]?.clientConfig.service).toEqual({
      namespace: 'cert-operator',
      name: 'cert-operator-webhook',
      port: 443,
      path: ISSUER_WEBHOOK_PATH,
    });
    expect(() => webhookConfiguration({ caBundlePem: 'PEM' })).toThrow(/url or service/);
  });

  it('is enabled by --webhook-cert-dir, on --webhook-port', () => {
    expect(parseConfig([], {}).webhook).toBeUndefined();
    expect(parseConfig(['--webhook-cert-dir', '/certs'], {}).webhook).toEqual({
      port: 9443,
      certDir: '/certs',
    });
    expect(
      parseConfig([], { CHOUSEI_CERT_WEBHOOK_CERT_DIR: '/c', CHOUSEI_CERT_WEBHOOK_PORT: '8443' })
        .webhook,
    ).toEqual({ port: 8443, certDir: '/c' });
  });
});

const LABEL = 'cert.chousei.dev/webhook-test';

/** A create through the API server, answering status, body and Warning headers. */
async function rawCreate(
  kc: KubeConfig,
  path: string,
  body: unknown,
): Promise<{ status: number; body: string; warnings: string[] }> {
  const cluster = kc.getCurrentCluster()!;
  const opts: RequestOptions = { method: 'POST', headers: {} };
  await kc.applyToHTTPSOptions(opts);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${cluster.server}${path}`,
      { ...opts, headers: { ...opts.headers, 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => {
          const header = res.headers.warning;
          const warnings = (Array.isArray(header) ? header : header ? [header] : []).flatMap((h) =>
            h.split(/,\s*(?=299 )/),
          );
          resolve({ status: res.statusCode ?? 0, body: text, warnings });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('the webhook behind a real kube-apiserver', () => {
  const run = Math.random().toString(36).slice(2, 8);
  const labels = { [LABEL]: run };
  let dir: string;
  let ca: KeyPair;
  let server: WebhookServer;
  let client: Client;
  let kubeConfig: KubeConfig;
  let admission: AdmissionregistrationV1Api;
  let ns: string;
  const configName = `chousei-cert-webhook-test-${run}`;
  let registered = false;

  const certificate = (name: string, spec: Partial<CertificateSpec>): Certificate => ({
    metadata: { name, namespace: ns },
    spec: { secretName: `${name}-tls`, issuerRef: { name: 'ca' }, ...spec },
  });

  /** The error a create meets, or 'accepted'. */
  const outcome = (p: Promise<unknown>) =>
    p.then(
      () => 'accepted' as const,
      (err: unknown) => {
        if (err instanceof ApiError) return err;
        throw err;
      },
    );
  const refusal = async (p: Promise<unknown>) => {
    const err = await outcome(p);
    expect(err).toBeInstanceOf(ForbiddenError);
    return err as ForbiddenError;
  };

  beforeAll(async () => {
    const cluster = await sharedCluster();
    await cluster.apply(CRDS);
    kubeConfig = cluster.kubeConfig;
    client = new Client(kubeConfig);
    admission = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    ns = await cluster.createNamespace('cert-webhook');
    // A Certificate stored before the webhook, which it would refuse today.
    await client.create(
      Certificates,
      certificate('legacy', { dnsNames: ['legacy.example.com'], duration: '90s' }),
    );
    // Only now does the namespace come into the webhook's scope.
    await client.patch(
      Namespaces,
      { name: ns },
      { type: 'merge', patch: { metadata: { labels } } },
    );

    dir = await mkdtemp(join(tmpdir(), 'cert-webhook-'));
    ca = await createCA(dir, 'ca');
    const pair = await issueCert(ca, dir, 'serving', {
      commonName: 'cert-webhook.test',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    });
    server = certWebhook({
      port: 0,
      host: '127.0.0.1',
      certFile: pair.certPath,
      keyFile: pair.keyPath,
      logger: silentLogger,
    });
    await server.start();
    await admission.createValidatingWebhookConfiguration({
      body: webhookConfiguration({
        name: configName,
        caBundlePem: ca.certPem,
        url: `https://127.0.0.1:${server.port}`,
        namespaceSelector: { matchLabels: labels },
        // ClusterIssuers: the test's own are labelled, the other files' are not ours.
        objectSelector: { matchLabels: labels },
      }),
    });
    registered = true;

    // Until the API server has loaded the configuration, creates pass unchecked: dry runs
    // (the webhooks have no side effects) ask until the answer is the webhook's.
    const probe = certificate('probe', {
      dnsNames: ['probe.example.com'],
      duration: '30m',
    });
    probe.metadata!.labels = labels;
    const deadline = Date.now() + 20_000;
    while (
      !(
        (await outcome(client.create(Certificates, probe, { dryRun: 'All' }))) instanceof
        ForbiddenError
      )
    ) {
      if (Date.now() > deadline) throw new Error('the webhook configuration never took effect');
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    // The configuration first: with failurePolicy Fail it must not outlive its server.
    if (registered) {
      await admission.deleteValidatingWebhookConfiguration({ name: configName }).catch((err) => {
        if (!(err instanceof ApiException && err.code === 404)) throw err;
      });
    }
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const labelled = <T extends KubeObject>(obj: T): T => ({
    ...obj,
    metadata: { ...obj.metadata, labels },
  });

  it('refuses a Certificate whose renewBefore is not shorter than its duration', async () => {
    const err = await refusal(
      client.create(
        Certificates,
        labelled(
          certificate('renew', {
            dnsNames: ['renew.example.com'],
            duration: '2h',
            renewBefore: '2h',
          }),
        ),
      ),
    );
    expect(err.message).toContain(
      'admission webhook "certificates.cert.chousei.dev" denied the request: Certificate renew is invalid: spec.renewBefore: 2h must be shorter than spec.duration (2h)',
    );
    expect(err.causes).toEqual([
      {
        field: 'spec.renewBefore',
        message:
          '2h must be shorter than spec.duration (2h): the certificate would always be due for renewal',
        reason: 'FieldValueInvalid',
      },
    ]);
  });

  it('refuses what only the webhook checks, every field at once', async () => {
    const err = await refusal(
      client.create(
        Certificates,
        labelled(
          certificate('many', {
            dnsNames: ['many.example.com'],
            ipAddresses: ['999.1.1.1'],
            duration: '30m',
            privateKey: { size: 4096 },
          }),
        ),
      ),
    );
    expect(err.causes.map((c) => c.field)).toEqual([
      'spec.ipAddresses[0]',
      'spec.duration',
      'spec.privateKey.size',
    ]);
    expect(err.message).toMatch(/spec\.ipAddresses\[0\]: "999\.1\.1\.1" is not an IP address/);
    expect(err.message).toMatch(/spec\.duration: 30m is shorter than the minimum/);
  });

  it('leaves to the schema what the schema refuses: a wildcard in the middle is a 422', async () => {
    const err = await outcome(
      client.create(Certificates, labelled(certificate('wild', { dnsNames: ['a.*.example.com'] }))),
    );
    expect(err).toBeInstanceOf(InvalidError);
    expect((err as InvalidError).message).toMatch(/spec\.dnsNames\[0\]/);
  });

  it('accepts a valid Certificate, with the warnings as Warning headers', async () => {
    const created = await client.create(
      Certificates,
      labelled(
        certificate('good', {
          dnsNames: ['good.example.com', '*.good.example.com'],
          ipAddresses: ['192.0.2.10'],
          duration: '720h',
          renewBefore: '240h',
          privateKey: { algorithm: 'RSA', size: 3072 },
        }),
      ),
    );
    expect(created.metadata?.uid).toBeTruthy();
    const res = await rawCreate(
      kubeConfig,
      `/apis/${GROUP}/${VERSION}/namespaces/${ns}/certificates`,
      {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'Certificate',
        ...labelled(
          certificate('warned', { commonName: 'cn.example.com', dnsNames: ['x.example.com'] }),
        ),
      },
    );
    expect(res.status, res.body).toBe(201);
    expect(res.warnings).toEqual([
      expect.stringContaining(
        'spec.commonName: \\"cn.example.com\\" is not among spec.dnsNames or spec.ipAddresses',
      ),
    ]);
  });

  it('refuses spec changes to a stored invalid Certificate, but lets metadata changes through', async () => {
    const legacy = await client.get(Certificates, { namespace: ns, name: 'legacy' });
    // The controller's finalizer, or a label: the spec stays as it was.
    const relabelled = await client.update(Certificates, {
      ...legacy,
      metadata: { ...legacy.metadata, labels, finalizers: ['cert.chousei.dev/test'] },
    });
    expect(relabelled.metadata?.finalizers).toEqual(['cert.chousei.dev/test']);
    const err = await refusal(
      client.update(Certificates, {
        ...relabelled,
        spec: { ...relabelled.spec, duration: '45m' },
      }),
    );
    expect(err.causes.map((c) => c.field)).toEqual(['spec.duration']);
    // And it can go: the finalizer comes off a deleting object whatever its spec.
    await client.delete(Certificates, { namespace: ns, name: 'legacy' });
    const deleting = await client.get(Certificates, { namespace: ns, name: 'legacy' });
    await client.update(Certificates, {
      ...deleting,
      metadata: { ...deleting.metadata, finalizers: [] },
    });
    await expect
      .poll(() => outcome(client.get(Certificates, { namespace: ns, name: 'legacy' })))
      .toMatchObject({ code: 404 });
  });

  it('refuses Issuers with rfc2136 solvers the operator could not use, accepts valid ones', async () => {
    const issuer = (name: string, solvers: Solver[]): Issuer =>
      labelled({ metadata: { name, namespace: ns }, spec: acme({ solvers }) });
    const tsig = await refusal(
      client.create(Issuers, issuer('tsig', [rfc2136({ tsigKeyName: 'key.example.com.' })])),
    );
    expect(tsig.causes).toEqual([
      {
        field: 'spec.acme.solvers[0].dns01.rfc2136.tsigSecretSecretRef',
        message: 'required when tsigKeyName is set',
        reason: 'FieldValueInvalid',
      },
    ]);
    const good = await client.create(
      Issuers,
      issuer('good', [
        rfc2136({ tsigKeyName: 'key.example.com.', tsigSecretSecretRef: { name: 'tsig' } }),
      ]),
    );
    expect(good.metadata?.uid).toBeTruthy();
    // Without dnsZones the operator finds each record's zone by SOA queries.
    const noZones = await client.create(Issuers, issuer('nozones', [rfc2136({}, null)]));
    expect(noZones.metadata?.uid).toBeTruthy();
  });

  it('validates ClusterIssuers selected by their labels, and only those', async () => {
    const name = `cert-webhook-${run}`;
    const bad: Issuer = {
      metadata: { name, labels },
      spec: acme({ server: 'https://acme example.com/directory' }),
    };
    const err = await refusal(client.create(ClusterIssuers, bad));
    expect(err.message).toContain(
      `admission webhook "clusterissuers.cert.chousei.dev" denied the request: ClusterIssuer ${name} is invalid: spec.acme.server: "https://acme example.com/directory" is not a URL`,
    );
    // Without the label it is none of this webhook's business (other tests share the cluster).
    const unlabelled = await outcome(
      client.create(ClusterIssuers, { ...bad, metadata: { name } }, { dryRun: 'All' }),
    );
    expect(unlabelled).toBe('accepted');
    const good = await client.create(ClusterIssuers, { ...bad, spec: acme() });
    try {
      expect(good.metadata?.labels).toEqual(labels);
    } finally {
      await client.delete(ClusterIssuers, { name });
    }
  });
});
