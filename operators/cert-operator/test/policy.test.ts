import type { Secret } from '@chousei/runtime';
import { describe, expect, it } from 'vitest';
import {
  ANNOTATION_ISSUER,
  ANNOTATION_ISSUER_KIND,
  type Certificate,
  type CertificateStatus,
} from '../src/api/types.js';
import { issuanceNeed, renewalDue } from '../src/controllers/policy.js';
import {
  cachedSecret,
  MAX_SECRET_VALUE_BYTES,
  readSecret,
  SecretRecords,
} from '../src/controllers/secret.js';
import {
  createCsr,
  generatePrivateKey,
  inspectCertificate,
  signCertificate,
} from '../src/pki/index.js';

const DAY = 86_400_000;
const issuedAt = new Date('2026-01-01T00:00:00Z');

/** A 90-day self-signed certificate for web.example.test, in a Secret as the operator writes it. */
function issued(): Secret {
  const key = generatePrivateKey({ algorithm: 'ECDSA', size: 256 });
  const csr = { privateKeyPem: key, dnsNames: ['web.example.test'], ipAddresses: [] };
  const crt = signCertificate({
    csrPem: createCsr(csr),
    issuerKeyPem: key,
    durationMs: 90 * DAY,
    usages: [],
    selfSigned: true,
    now: issuedAt,
  });
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return {
    metadata: { annotations: { [ANNOTATION_ISSUER]: 'self', [ANNOTATION_ISSUER_KIND]: 'Issuer' } },
    data: { 'tls.crt': b64(crt), 'tls.key': b64(key) },
  };
}

const cert = (status?: CertificateStatus): Certificate => ({
  metadata: { name: 'web', namespace: 'default', generation: 2 },
  spec: { secretName: 'web-tls', issuerRef: { name: 'self' }, dnsNames: ['web.example.test'] },
  ...(status ? { status } : {}),
});

describe('renewal time', () => {
  const secret = issued();
  const notAfter = new Date(issuedAt.getTime() + 90 * DAY);

  it('is a third of the lifetime before expiry without a suggestion', () => {
    expect(renewalDue(cert(), issuedAt, notAfter)).toEqual(new Date(issuedAt.getTime() + 60 * DAY));
    expect(issuanceNeed(cert(), secret, new Date(issuedAt.getTime() + 59 * DAY))).toBeUndefined();
    expect(issuanceNeed(cert(), secret, new Date(issuedAt.getTime() + 61 * DAY))?.reason).toBe(
      'Renewing',
    );
  });

  it('follows an earlier time the CA suggested (ARI) for the spec it was issued for', () => {
    const suggested = new Date(issuedAt.getTime() + 10 * DAY);
    const withAri = cert({ renewalTime: suggested.toISOString(), observedGeneration: 2 });
    expect(renewalDue(withAri, issuedAt, notAfter)).toEqual(suggested);
    // Due at once, not requeued until the policy's time: the ARI window is what the CA asked for.
    expect(issuanceNeed(withAri, secret, new Date(issuedAt.getTime() + 11 * DAY))?.reason).toBe(
      'Renewing',
    );
    // A later suggestion never postpones renewal past renewBefore.
    const late = cert({
      renewalTime: new Date(issuedAt.getTime() + 80 * DAY).toISOString(),
      observedGeneration: 2,
    });
    expect(renewalDue(late, issuedAt, notAfter)).toEqual(new Date(issuedAt.getTime() + 60 * DAY));
    // Once the spec changed, the old suggestion no longer applies.
    const stale = cert({ renewalTime: suggested.toISOString(), observedGeneration: 1 });
    expect(renewalDue(stale, issuedAt, notAfter)).toEqual(new Date(issuedAt.getTime() + 60 * DAY));
  });
});

describe('the managed Secret as cached', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const text = (v: string | undefined) => Buffer.from(v ?? '', 'base64').toString('utf8');
  const withData = (data: Record<string, string>): Secret => ({ ...issued(), data });
  const now = new Date(issuedAt.getTime() + DAY);
  const expectSameNeeds = (full: Secret) => {
    const cached = cachedSecret(structuredClone(full));
    expect(cached.data).toBeUndefined();
    expect(cached.metadata).toEqual(full.metadata);
    // Every reason the Secret gives, or none: as is, for other names, another key, due.
    const certs = [
      cert(),
      { ...cert(), spec: { ...cert().spec, dnsNames: ['other.example.test'] } },
      { ...cert(), spec: { ...cert().spec, privateKey: { algorithm: 'RSA' as const } } },
      { ...cert(), spec: { ...cert().spec, issuerRef: { name: 'ca' } } },
    ];
    for (const c of certs)
      for (const at of [now, new Date(issuedAt.getTime() + 70 * DAY)])
        expect(issuanceNeed(c, cached, at)).toEqual(issuanceNeed(c, full, at));
  };

  it('keeps the metadata and what a reconcile reads of the data, nothing of the PEMs', () => {
    const full = issued();
    const leaf = text(full.data?.['tls.crt']);
    const other = text(issued().data?.['tls.crt']);
    // A chain and ca.crt, as a CA issuer writes them.
    full.data = { ...full.data, 'tls.crt': b64(leaf + other), 'ca.crt': b64(other) };
    expect(issuanceNeed(cert(), full, now)).toBeUndefined();
    expectSameNeeds(full);
  });

  it('reads as the Secret whole when its data is unusable or belongs to another key', () => {
    const { 'tls.key': key = '', 'tls.crt': crt = '' } = issued().data ?? {};
    const otherKey = issued().data?.['tls.key'] ?? '';
    const unusable: Record<string, string>[] = [
      { 'tls.crt': b64('not a certificate'), 'tls.key': key },
      { 'tls.crt': b64('-----BEGIN CERTIFICATE-----\nAAAA'), 'tls.key': key },
      { 'tls.crt': 'A'.repeat(Math.ceil(((MAX_SECRET_VALUE_BYTES + 3) / 3) * 4)), 'tls.key': key },
      { 'tls.crt': crt },
      { 'tls.crt': crt, 'tls.key': otherKey },
      { 'tls.crt': crt, 'tls.key': b64('not a key') },
    ];
    for (const data of unusable) {
      expect(issuanceNeed(cert(), withData(data), now)).toBeDefined();
      expectSameNeeds(withData(data));
    }
  });

  it('caches a Secret this operator writes with the record of its issuance, for the same PEMs only', () => {
    const full = issued();
    const records = new SecretRecords();
    const read = (s: Secret) => readSecret('web-tls', records.transform(structuredClone(s)));
    const parsed = readSecret('web-tls', cachedSecret(structuredClone(full)));
    records.writing(full, inspectCertificate(text(full.data?.['tls.crt'])));
    expect(read(full)).toEqual(parsed);
    // The record comes from the write, not from a parse of the event.
    const other = issued();
    records.writing(full, inspectCertificate(text(other.data?.['tls.crt'])));
    expect(read(full)).toEqual(readSecret('web-tls', cachedSecret(structuredClone(other))));
    // The same certificate in a Secret with another key: parsed, and found not to match.
    const otherKey = withData({ ...full.data, 'tls.key': other.data?.['tls.key'] ?? '' });
    records.writing(full, inspectCertificate(text(full.data?.['tls.crt'])));
    expect(read(otherKey)).toMatchObject({ certificate: { keyMatches: false } });
  });

  it('keeps a Secret without tls.crt (a next key) whole', () => {
    const next = withData({ 'tls.key': issued().data?.['tls.key'] ?? '' });
    expect(cachedSecret(structuredClone(next))).toEqual(next);
  });
});
