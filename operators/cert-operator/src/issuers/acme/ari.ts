// ACME Renewal Information (RFC 9773): the CA's suggested renewal window for a certificate.
import { inspectCertificate } from '../../pki/certificate.js';
import type { RenewalWindow } from '../issuer.js';

/**
 * The ARI certificate identifier (RFC 9773): base64url of the authority key
 * identifier's keyIdentifier, a dot, base64url of the serial number's DER content octets
 * (with the leading zero a positive serial whose top bit is set needs), of a bundle's first
 * certificate.
 */
export function ariCertId(certPem: string): string {
  const id = ariCertIdOfInfo(inspectCertificate(certPem));
  if (id === undefined) throw new Error('the certificate has no authority key identifier');
  return id;
}

/** ariCertId of a certificate parsed already (hex fields as inspectCertificate gives them). */
export function ariCertIdOfInfo(info: {
  serialNumber: string;
  authorityKeyId?: string | undefined;
}): string | undefined {
  if (!info.authorityKeyId) return undefined;
  // Serial numbers are read without the DER sign octet: put it back.
  let serial = Buffer.from(info.serialNumber, 'hex');
  if ((serial[0] ?? 0) & 0x80) serial = Buffer.concat([Buffer.of(0), serial]);
  const aki = Buffer.from(info.authorityKeyId, 'hex').toString('base64url');
  return [aki, serial.toString('base64url')].join('.');
}

/** The suggested window of a renewalInfo response body, if it is well formed. */
export function parseRenewalInfo(body: unknown): RenewalWindow | undefined {
  if (typeof body !== 'object' || body === null || !('suggestedWindow' in body)) return undefined;
  const w = body.suggestedWindow;
  if (typeof w !== 'object' || w === null || !('start' in w) || !('end' in w)) return undefined;
  if (typeof w.start !== 'string' || typeof w.end !== 'string') return undefined;
  const start = new Date(w.start);
  const end = new Date(w.end);
  // RFC 9773: a window whose end is not after its start is invalid.
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end <= start) {
    return undefined;
  }
  return { start, end };
}

/** A uniformly random point in the window (as RFC 9773 advises), so renewals spread out. */
export function renewalTimeIn(window: RenewalWindow, random = Math.random): Date {
  const start = window.start.getTime();
  return new Date(start + Math.floor(random() * (window.end.getTime() - start)));
}
