import type { Secret } from '@chousei/runtime';
import { describe, expect, it } from 'vitest';
import {
  ANNOTATION_ISSUER,
  ANNOTATION_ISSUER_KIND,
  type Certificate,
  type CertificateStatus,
} from '../src/api/types.js';
import { issuanceNeed, renewalDue } from '../src/controllers/policy.js';
import { createCsr, generatePrivateKey, signCertificate } from '../src/pki/index.js';

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
