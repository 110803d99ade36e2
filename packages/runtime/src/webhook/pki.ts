/**
 * The little PKI a webhook's serving certificate needs, on node:crypto alone: an ECDSA P-256
 * CA and leaves it signs for DNS names, as X.509 v3 in PEM. (The cert-operator's pki/ is the
 * full one: CSRs, RSA and Ed25519, usages, chains.)
 */
import {
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';

/** A certificate and its private key, PEM. */
export interface KeyPair {
  cert: string;
  key: string;
}

export interface IssueOptions {
  /** The leaf's DNS names (its subjectAltName); none for a CA. */
  dnsNames?: string[];
  /** The CA's common name; leaves have none (the names are the SANs, RFC 6125). */
  commonName?: string;
  notBefore: Date;
  notAfter: Date;
  /** Signs the certificate; unset: self-signed (a CA). */
  issuer?: KeyPair;
}

// DER (X.690), only the types a certificate uses.
const tlv = (tag: number, ...content: Buffer[]): Buffer => {
  const body = Buffer.concat(content);
  const n = body.length;
  const length =
    n < 0x80
      ? Buffer.from([n])
      : n < 0x100
        ? Buffer.from([0x81, n])
        : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
};
const seq = (...content: Buffer[]) => tlv(0x30, ...content);
const explicit = (n: number, ...content: Buffer[]) => tlv(0xa0 | n, ...content);
const bool = (value: boolean) => tlv(0x01, Buffer.from([value ? 0xff : 0]));
const octets = (content: Buffer) => tlv(0x04, content);
const bits = (content: Buffer) => tlv(0x03, Buffer.from([0]), content);
function objectId(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * a + b];
  for (const arc of rest) {
    const base128 = [arc & 0x7f];
    for (let v = arc >> 7; v > 0; v >>= 7) base128.unshift((v & 0x7f) | 0x80);
    bytes.push(...base128);
  }
  return tlv(0x06, Buffer.from(bytes));
}
/** UTCTime until 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return date.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`))
    : tlv(0x18, Buffer.from(`${iso}Z`));
}
const name = (commonName?: string) =>
  commonName ? seq(tlv(0x31, seq(objectId('2.5.4.3'), tlv(0x0c, Buffer.from(commonName))))) : seq();
const extension = (id: string, critical: boolean, value: Buffer) =>
  seq(objectId(id), ...(critical ? [bool(true)] : []), octets(value));

const ECDSA_SHA256 = seq(objectId('1.2.840.10045.4.3.2'));

function extensions(isCA: boolean, dnsNames: string[]): Buffer {
  // keyUsage: keyCertSign + cRLSign for a CA, digitalSignature for a leaf.
  const usage = isCA ? bits(Buffer.from([0x06])) : bits(Buffer.from([0x80]));
  return explicit(
    3,
    seq(
      extension('2.5.29.19', true, seq(...(isCA ? [bool(true)] : []))),
      extension('2.5.29.15', true, usage),
      ...(isCA
        ? []
        : [
            extension('2.5.29.37', false, seq(objectId('1.3.6.1.5.5.7.3.1'))),
            extension('2.5.29.17', false, seq(...dnsNames.map((n) => tlv(0x82, Buffer.from(n))))),
          ]),
    ),
  );
}

/** A new ECDSA P-256 key pair's certificate: a self-signed CA, or a leaf `issuer` signs. */
export function issueCertificate(opts: IssueOptions): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const isCA = !opts.issuer;
  const issuerName = opts.issuer
    ? name(new X509Certificate(opts.issuer.cert).subject.replace(/^CN=/, ''))
    : name(opts.commonName);
  // A positive 16-byte serial: the top bit clear, so DER needs no sign byte.
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const tbs = seq(
    explicit(0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, serial),
    ECDSA_SHA256,
    issuerName,
    seq(time(opts.notBefore), time(opts.notAfter)),
    name(opts.commonName),
    publicKey.export({ type: 'spki', format: 'der' }),
    extensions(isCA, opts.dnsNames ?? []),
  );
  const signer = opts.issuer ? createPrivateKey(opts.issuer.key) : privateKey;
  const der = seq(tbs, ECDSA_SHA256, bits(sign('sha256', tbs, signer)));
  const base64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return {
    cert: `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/**
 * Why `leaf` must be replaced to serve `dnsNames` under `ca` at `now`: it does not verify,
 * lacks a name, or is past two thirds of its life. Undefined when it serves on.
 */
export function leafProblem(
  leaf: KeyPair,
  ca: KeyPair,
  dnsNames: string[],
  now: Date,
): string | undefined {
  let cert: X509Certificate;
  let issuer: X509Certificate;
  try {
    cert = new X509Certificate(leaf.cert);
    issuer = new X509Certificate(ca.cert);
    if (!cert.checkPrivateKey(createPrivateKey(leaf.key)))
      return 'tls.key does not belong to tls.crt';
  } catch (err) {
    return `the pair cannot be read: ${(err as Error).message}`;
  }
  if (!cert.verify(issuer.publicKey)) return 'tls.crt was not signed by ca.crt';
  const missing = dnsNames.filter((n) => !cert.subjectAltName?.split(', ').includes(`DNS:${n}`));
  if (missing.length) return `tls.crt is not for ${missing.join(', ')}`;
  return renewalProblem(cert, now, 'tls.crt');
}

/** Why the CA must be replaced at `now` (unreadable, not a CA, key not its own, due). */
export function caProblem(ca: KeyPair, now: Date): string | undefined {
  try {
    const cert = new X509Certificate(ca.cert);
    if (!cert.ca) return 'ca.crt is not a CA';
    if (!cert.checkPrivateKey(createPrivateKey(ca.key))) return 'ca.key does not belong to ca.crt';
    return renewalProblem(cert, now, 'ca.crt');
  } catch (err) {
    return `the CA cannot be read: ${(err as Error).message}`;
  }
}

/** Due at two thirds of its life, as cert-manager renews by default. */
function renewalProblem(cert: X509Certificate, now: Date, what: string): string | undefined {
  const from = new Date(cert.validFrom).getTime();
  const to = new Date(cert.validTo).getTime();
  if (now.getTime() < from + ((to - from) * 2) / 3) return undefined;
  return `${what} is due for renewal: it expires at ${new Date(to).toISOString()}`;
}

/** When the certificate expires. */
export function notAfter(certPem: string): Date {
  return new Date(new X509Certificate(certPem).validTo);
}
