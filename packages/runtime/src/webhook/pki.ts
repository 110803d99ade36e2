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
  /** Signs the certificate (the first of a bundle); unset: self-signed (a CA). */
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
  const issuer = opts.issuer && new X509Certificate(opts.issuer.cert);
  const issuerName = issuer ? name(issuer.subject.replace(/^CN=/, '')) : name(opts.commonName);
  // A leaf outliving its CA would not verify for its last part: it ends with the CA.
  const until =
    issuer && new Date(issuer.validTo) < opts.notAfter ? new Date(issuer.validTo) : opts.notAfter;
  // A positive 16-byte serial in minimal DER: the top bit clear (no sign byte) and the next
  // set (no leading zero byte, which a DER reader refuses as padding: 1 serial in 256).
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40;
  const tbs = seq(
    explicit(0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, serial),
    ECDSA_SHA256,
    issuerName,
    seq(time(opts.notBefore), time(until)),
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
 * A serving pair as its Secret keeps it. `ca.cert` may hold several CAs: the one `ca.key`
 * belongs to (it signs) first, then previous ones, trusted until they expire, so that a CA is
 * replaced without a moment when the API server cannot verify the leaf it is served.
 */
export interface ServingPair {
  ca: KeyPair;
  leaf: KeyPair;
}

/** What is wrong with a stored pair; empty when it serves until the next check. */
export interface PairProblems {
  /** Why the signing CA must be replaced. */
  ca?: string;
  /** With `ca`: the CA is sound, only due. It stays in ca.crt, behind the next one. */
  caDue?: boolean;
  /** Why the leaf must be replaced. */
  leaf?: string;
  /**
   * With `leaf`: it still verifies and has the right names and key; only its age or its
   * signer (a previous CA) calls for a new one. It may serve while a next CA becomes trusted.
   */
  leafServes?: boolean;
  /** With `leaf`: it was signed by a previous CA in ca.crt. */
  leafFromPreviousCA?: boolean;
}

/** The Secret's keys, by the part of the pair they hold. */
export const PAIR_KEYS = [
  ['ca.crt', (p: ServingPair) => p.ca.cert],
  ['ca.key', (p: ServingPair) => p.ca.key],
  ['tls.crt', (p: ServingPair) => p.leaf.cert],
  ['tls.key', (p: ServingPair) => p.leaf.key],
] as const;

/**
 * Why `pair` must be replaced to serve `dnsNames` at `now` (`leaf`), and whether its CA must
 * go too (`ca`). Each part is due at two thirds of its life. A CA that cannot sign takes its
 * leaf with it: the leaf would not verify either.
 */
export function pairProblems(pair: ServingPair, dnsNames: string[], now: Date): PairProblems {
  const missing = PAIR_KEYS.filter(([, part]) => !part(pair)).map(([key]) => key);
  if (missing.length) {
    const reason = `the Secret has no ${missing.join(', ')}`;
    return missing.some((k) => k.startsWith('ca.'))
      ? { ca: reason, leaf: reason }
      : { leaf: reason };
  }
  const cas = splitPem(pair.ca.cert);
  const ca = caProblem({ cert: cas[0] ?? '', key: pair.ca.key }, now);
  if (ca && !ca.due) return { ca: ca.reason, leaf: ca.reason };
  return {
    ...(ca ? { ca: ca.reason, caDue: true } : {}),
    ...leafProblem(pair.leaf, cas, dnsNames, now),
  };
}

/** Why the CA must be replaced at `now`: unreadable, not a CA, key not its own (not `due`), or due. */
function caProblem(ca: KeyPair, now: Date): { reason: string; due: boolean } | undefined {
  try {
    const cert = new X509Certificate(ca.cert);
    if (!cert.ca) return { reason: 'ca.crt is not a CA', due: false };
    if (!cert.checkPrivateKey(createPrivateKey(ca.key))) {
      return { reason: 'ca.key does not belong to ca.crt', due: false };
    }
    const due = renewalProblem(cert, now, 'the CA');
    // An expired CA signs nothing the API server accepts: as bad as an unusable one.
    return due ? { reason: due, due: new Date(cert.validTo) > now } : undefined;
  } catch (err) {
    return { reason: `the CA cannot be read: ${(err as Error).message}`, due: false };
  }
}

function leafProblem(
  leaf: KeyPair,
  cas: string[],
  dnsNames: string[],
  now: Date,
): Omit<PairProblems, 'ca' | 'caDue'> {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(leaf.cert);
    const want = [...dnsNames].sort().join(', ');
    const has = (cert.subjectAltName ?? '')
      .split(', ')
      .filter((n) => n.startsWith('DNS:'))
      .map((n) => n.slice(4).toLowerCase())
      .sort()
      .join(', ');
    if (has !== want) return { leaf: `tls.crt is for ${has || 'no DNS name'}, not ${want}` };
    if (!cert.checkPrivateKey(createPrivateKey(leaf.key))) {
      return { leaf: 'tls.key does not belong to tls.crt' };
    }
  } catch (err) {
    return { leaf: `tls.crt cannot be read: ${(err as Error).message}` };
  }
  const signer = cas.findIndex((ca) => signedBy(cert, ca));
  const invalid =
    signer < 0
      ? 'it was not signed by ca.crt'
      : (outsideValidity(cert, now, 'it') ??
        outsideValidity(new X509Certificate(cas[signer]!), now, 'its CA'));
  if (invalid) return { leaf: `tls.crt does not verify against ca.crt: ${invalid}` };
  const previous = signer > 0 ? { leafFromPreviousCA: true } : {};
  const due = renewalProblem(cert, now, 'tls.crt');
  if (due) return { leaf: due, leafServes: true, ...previous };
  if (signer > 0)
    return { leaf: 'tls.crt was signed by a previous CA', leafServes: true, ...previous };
  return {};
}

function signedBy(cert: X509Certificate, caPem: string): boolean {
  try {
    const ca = new X509Certificate(caPem);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

function outsideValidity(cert: X509Certificate, now: Date, what: string): string | undefined {
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  if (now < from) return `${what} is not valid before ${from.toISOString()}`;
  if (now >= to) return `${what} expired at ${to.toISOString()}`;
  return undefined;
}

/** Due at two thirds of its life, as cert-manager renews by default. */
function renewalProblem(cert: X509Certificate, now: Date, what: string): string | undefined {
  const from = new Date(cert.validFrom).getTime();
  const to = new Date(cert.validTo).getTime();
  if (now.getTime() < from + ((to - from) * 2) / 3) return undefined;
  return `${what} is due for renewal: it expires at ${new Date(to).toISOString()}`;
}

/** The certificates of a PEM bundle, each as its own PEM, in order. */
export function splitPem(bundle: string): string[] {
  return (
    bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g) ?? []
  ).map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`));
}

/** The certificates of `cas` still valid at `now`, in order. */
export function unexpired(cas: string[], now: Date): string[] {
  return cas.filter((ca) => {
    try {
      return new Date(new X509Certificate(ca).validTo) > now;
    } catch {
      return false;
    }
  });
}

/** When the certificate expires. */
export function notAfter(certPem: string): Date {
  return new Date(new X509Certificate(certPem).validTo);
}
