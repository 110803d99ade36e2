// The PKI building blocks: keys of every type, CSRs, self-signed and CA-signed certificates,
// chain verification and renewal time, cross-checked with node:crypto and the openssl CLI.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KeyUsage, PrivateKeySpec } from '../src/pki/index.js';
import {
  createCsr,
  defaultRenewalTime,
  generatePrivateKey,
  inspectCertificate,
  keyMatchesCertificate,
  keySpecOf,
  parseCsr,
  signCertificate,
  splitPem,
  verifyChain,
  verifyCsr,
} from '../src/pki/index.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const BACKDATE = 60_000;

const dir = mkdtempSync(join(tmpdir(), 'chousei-pki-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** Runs openssl on PEM inputs written to temporary files; returns stdout (throws on failure). */
function openssl(args: string[], pems: Record<string, string> = {}): string {
  const paths = Object.fromEntries(
    Object.entries(pems).map(([name, pem]) => {
      const path = join(dir, `${files++}-${name}.pem`);
      writeFileSync(path, pem);
      return [name, path];
    }),
  );
  const argv = args.map((a) => (a.startsWith('@') ? paths[a.slice(1)]! : a));
  return execFileSync('openssl', argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

interface Pair {
  key: string;
  cert: string;
}

function selfSignedCA(
  name: string,
  spec: PrivateKeySpec = { algorithm: 'ECDSA' },
  now?: Date,
): Pair {
  const key = generatePrivateKey(spec);
  const cert = signCertificate({
    csrPem: createCsr({ privateKeyPem: key, commonName: name, dnsNames: [], ipAddresses: [] }),
    issuerKeyPem: key,
    durationMs: 365 * DAY,
    usages: [],
    isCA: true,
    selfSigned: true,
    ...(now && { now }),
  });
  return { key, cert };
}

function selfSignedLeaf(name: string): string {
  const key = generatePrivateKey();
  return signCertificate({
    csrPem: createCsr({ privateKeyPem: key, commonName: name, dnsNames: [], ipAddresses: [] }),
    issuerKeyPem: key,
    durationMs: DAY,
    usages: [],
    selfSigned: true,
  });
}

function issue(
  issuer: Pair,
  opts: {
    commonName?: string;
    dnsNames?: string[];
    ipAddresses?: string[];
    spec?: PrivateKeySpec;
    durationMs?: number;
    usages?: KeyUsage[];
    isCA?: boolean;
    now?: Date;
  } = {},
): Pair {
  const key = generatePrivateKey(opts.spec);
  const cert = signCertificate({
    csrPem: createCsr({
      privateKeyPem: key,
      ...(opts.commonName && { commonName: opts.commonName }),
      dnsNames: opts.dnsNames ?? ['www.example.test'],
      ipAddresses: opts.ipAddresses ?? [],
    }),
    issuerCertPem: issuer.cert,
    issuerKeyPem: issuer.key,
    durationMs: opts.durationMs ?? DAY,
    usages: opts.usages ?? [],
    isCA: opts.isCA ?? false,
    ...(opts.now && { now: opts.now }),
  });
  return { key, cert };
}

/** The PEM with one byte of its DER changed at `at` (negative: from the end). */
function tamper(pem: string, label: string, at: number): string {
  const body = pem.replace(/-----[A-Z ]+-----|\s/g, '');
  const der = Buffer.from(body, 'base64');
  const i = at < 0 ? der.length + at : at;
  der[i] = der[i]! ^ 0x01;
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64.trim()}\n-----END ${label}-----\n`;
}

const KEY_TYPES: PrivateKeySpec[] = [
  { algorithm: 'ECDSA', size: 256 },
  { algorithm: 'ECDSA', size: 384 },
  { algorithm: 'RSA', size: 2048 },
  { algorithm: 'RSA', size: 3072 },
  { algorithm: 'RSA', size: 4096 },
  { algorithm: 'Ed25519' },
];

describe('keys and CSRs', () => {
  it.each(KEY_TYPES)('$algorithm $size: generates, reads back, requests and self-signs', (spec) => {
    const key = generatePrivateKey(spec);
    expect(key).toMatch(/^-----BEGIN PRIVATE KEY-----\n/); // PKCS#8
    expect(keySpecOf(key)).toEqual(spec);

    const csr = createCsr({
      privateKeyPem: key,
      commonName: 'app.example.test',
      dnsNames: ['app.example.test', '*.app.example.test'],
      ipAddresses: ['192.0.2.7', '2001:db8::7'],
    });
    expect(verifyCsr(csr)).toBe(true);
    const parsed = parseCsr(csr);
    expect(parsed).toMatchObject({
      commonName: 'app.example.test',
      dnsNames: ['app.example.test', '*.app.example.test'],
      ipAddresses: ['192.0.2.7', '2001:db8::7'],
    });
    expect(parsed.publicKey.equals(createPublicKey(key))).toBe(true);
    // OpenSSL agrees the CSR is well formed and self-consistently signed.
    expect(openssl(['req', '-in', '@csr', '-noout', '-verify'], { csr })).toBe('');

    const cert = signCertificate({
      csrPem: csr,
      issuerKeyPem: key,
      durationMs: DAY,
      usages: [],
      selfSigned: true,
    });
    expect(inspectCertificate(cert).keyAlgorithm).toEqual(spec);
    expect(keyMatchesCertificate(key, cert)).toBe(true);
    expect(verifyChain(cert, cert)).toEqual({ valid: true });
    expect(openssl(['verify', '-CAfile', '@cert', '@cert'], { cert })).toMatch(/: OK/);
  });

  it('defaults to ECDSA P-256, and RSA to 2048 bits', () => {
    expect(keySpecOf(generatePrivateKey())).toEqual({ algorithm: 'ECDSA', size: 256 });
    expect(keySpecOf(generatePrivateKey({ algorithm: 'RSA' }))).toEqual({
      algorithm: 'RSA',
      size: 2048,
    });
    // Size means nothing for Ed25519.
    expect(keySpecOf(generatePrivateKey({ algorithm: 'Ed25519', size: 4096 }))).toEqual({
      algorithm: 'Ed25519',
    });
  });

  it('names spec.privateKey.size or .algorithm when they are unsupported', () => {
    expect(() => generatePrivateKey({ algorithm: 'ECDSA', size: 521 })).toThrow(
      /spec\.privateKey\.size 521 for ECDSA/,
    );
    expect(() => generatePrivateKey({ algorithm: 'RSA', size: 1024 })).toThrow(
      /spec\.privateKey\.size 1024 for RSA \(use 2048, 3072 or 4096\)/,
    );
    const bogus = { algorithm: 'DSA' } as unknown as PrivateKeySpec;
    expect(() => generatePrivateKey(bogus)).toThrow(/spec\.privateKey\.algorithm "DSA"/);
  });

  it('reads back PKCS#1 and SEC1 keys, and refuses what is not a key', () => {
    const rsa = createPrivateKey(generatePrivateKey({ algorithm: 'RSA', size: 3072 }));
    const pkcs1 = rsa.export({ type: 'pkcs1', format: 'pem' }).toString();
    expect(pkcs1).toMatch(/BEGIN RSA PRIVATE KEY/);
    expect(keySpecOf(pkcs1)).toEqual({ algorithm: 'RSA', size: 3072 });

    const ec = createPrivateKey(generatePrivateKey({ algorithm: 'ECDSA', size: 384 }));
    const sec1 = ec.export({ type: 'sec1', format: 'pem' }).toString();
    expect(sec1).toMatch(/BEGIN EC PRIVATE KEY/);
    expect(keySpecOf(sec1)).toEqual({ algorithm: 'ECDSA', size: 384 });
    // A CSR made from the SEC1 form carries the same key.
    const csr = createCsr({ privateKeyPem: sec1, dnsNames: ['a.example.test'], ipAddresses: [] });
    expect(verifyCsr(csr)).toBe(true);

    expect(() => keySpecOf('not a key')).toThrow(/not a usable private key PEM/);
  });

  it('keeps a CN with DN syntax as a value, normalises IPs and refuses bad ones', () => {
    const key = generatePrivateKey();
    const csr = createCsr({
      privateKeyPem: key,
      commonName: 'Acme, Inc. = "web"',
      dnsNames: [],
      ipAddresses: ['2001:DB8:0:0::1', '::ffff:192.0.2.1', '10.0.0.1'],
    });
    expect(parseCsr(csr)).toMatchObject({
      commonName: 'Acme, Inc. = "web"',
      dnsNames: [],
      ipAddresses: ['2001:db8::1', '::ffff:c000:201', '10.0.0.1'],
    });
    const text = openssl(['req', '-in', '@csr', '-noout', '-text'], { csr });
    expect(text).toContain('IP Address:2001:DB8:0:0:0:0:0:1');
    expect(text).toContain('IP Address:10.0.0.1');

    for (const ip of ['300.1.1.1', 'fe80::1%eth0', 'example.test', '01.2.3.4']) {
      expect(() => createCsr({ privateKeyPem: key, dnsNames: [], ipAddresses: [ip] })).toThrow(
        /invalid IP address/,
      );
    }
    expect(() => createCsr({ privateKeyPem: key, dnsNames: [], ipAddresses: [] })).toThrow(
      /needs a commonName, a DNS name or an IP address/,
    );
  });

  it('asks for usages and CA in the CSR when told to', () => {
    const key = generatePrivateKey();
    const csr = createCsr({
      privateKeyPem: key,
      commonName: 'CA',
      dnsNames: [],
      ipAddresses: [],
      usages: ['cert sign', 'client auth'],
      isCA: true,
    });
    const text = openssl(['req', '-in', '@csr', '-noout', '-text'], { csr });
    expect(text).toMatch(/Key Usage: critical\s+Certificate Sign/);
    expect(text).toMatch(/Extended Key Usage:\s+TLS Web Client Authentication/);
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
  });
});

describe('signing', () => {
  const root = selfSignedCA('Chousei Test Root', { algorithm: 'RSA', size: 2048 });
  const intermediate = issue(root, {
    commonName: 'Chousei Test Intermediate',
    dnsNames: [],
    isCA: true,
    durationMs: 30 * DAY,
  });

  it('self-signs with the CSR names, default usages and the requested lifetime', () => {
    const key = generatePrivateKey();
    const before = Date.now();
    const cert = signCertificate({
      csrPem: createCsr({
        privateKeyPem: key,
        commonName: 'self.example.test',
        dnsNames: ['self.example.test'],
        ipAddresses: ['192.0.2.1'],
      }),
      issuerKeyPem: key,
      durationMs: 90 * DAY,
      usages: [],
      selfSigned: true,
    });
    const info = inspectCertificate(cert);
    expect(info).toMatchObject({
      subject: 'CN=self.example.test',
      issuer: 'CN=self.example.test',
      commonName: 'self.example.test',
      dnsNames: ['self.example.test'],
      ipAddresses: ['192.0.2.1'],
      isCA: false,
      // No key encipherment for an ECDSA key.
      usages: ['digital signature', 'server auth'],
      keyAlgorithm: { algorithm: 'ECDSA', size: 256 },
    });
    // Seconds precision in X.509; backdated a minute for clock skew.
    expect(info.notBefore.getTime()).toBeGreaterThanOrEqual(before - BACKDATE - 1000);
    expect(info.notBefore.getTime()).toBeLessThanOrEqual(Date.now() - BACKDATE);
    expect(info.notAfter.getTime() - info.notBefore.getTime()).toBeGreaterThan(
      90 * DAY + BACKDATE - 1000,
    );
    expect(info.notAfter.getTime() - info.notBefore.getTime()).toBeLessThanOrEqual(
      90 * DAY + BACKDATE,
    );

    const node = new X509Certificate(cert);
    expect(info.fingerprintSha256).toBe(node.fingerprint256);
    expect(info.serialNumber).toBe(node.serialNumber.toLowerCase());
    expect(info.serialNumber).toMatch(/^[4-7][0-9a-f]{31}$/); // 16 random bytes, positive
    // OpenSSL's checkIssued also wants keyCertSign, which a self-signed leaf lacks: names only.
    expect(node.issuer).toBe(node.subject);
  });

  it('gives RSA keys key encipherment, and uses exactly the usages asked for', () => {
    const rsa = issue(root, { spec: { algorithm: 'RSA', size: 2048 } });
    expect(inspectCertificate(rsa.cert).usages).toEqual([
      'digital signature',
      'key encipherment',
      'server auth',
    ]);
    const client = issue(root, { usages: ['digital signature', 'client auth'] });
    expect(inspectCertificate(client.cert).usages).toEqual(['digital signature', 'client auth']);
    const text = openssl(['x509', '-in', '@cert', '-noout', '-text'], { cert: client.cert });
    expect(text).toMatch(/Extended Key Usage:\s+TLS Web Client Authentication\n/);
  });

  it('makes CA certificates that can sign, without a server auth restriction', () => {
    const info = inspectCertificate(intermediate.cert);
    expect(info.isCA).toBe(true);
    expect(info.usages).toEqual(['digital signature', 'cert sign']);
    expect(info.issuer).toBe('CN=Chousei Test Root');
    expect(inspectCertificate(root.cert).usages).toEqual([
      'digital signature',
      'key encipherment',
      'cert sign',
    ]);
  });

  it('signs a leaf from a CA: SANs, CN, usages, key identifiers, accepted by OpenSSL', () => {
    const leaf = issue(intermediate, {
      commonName: 'api.example.test',
      dnsNames: ['api.example.test', 'api'],
      ipAddresses: ['192.0.2.10', '2001:db8::10'],
      spec: { algorithm: 'Ed25519' },
      durationMs: 2 * HOUR,
    });
    const info = inspectCertificate(leaf.cert);
    expect(info).toMatchObject({
      subject: 'CN=api.example.test',
      issuer: 'CN=Chousei Test Intermediate',
      dnsNames: ['api.example.test', 'api'],
      ipAddresses: ['192.0.2.10', '2001:db8::10'],
      isCA: false,
      usages: ['digital signature', 'server auth'],
      keyAlgorithm: { algorithm: 'Ed25519' },
    });
    expect(info.notAfter.getTime() - info.notBefore.getTime()).toBeGreaterThan(2 * HOUR);
    expect(info.notAfter.getTime() - info.notBefore.getTime()).toBeLessThanOrEqual(
      2 * HOUR + BACKDATE,
    );

    const text = openssl(['x509', '-in', '@leaf', '-noout', '-text'], { leaf: leaf.cert });
    expect(text).toContain('Version: 3 (0x2)');
    expect(text).toContain('Subject: CN = api.example.test');
    expect(text).toContain('Issuer: CN = Chousei Test Intermediate');
    expect(text).toContain(
      'DNS:api.example.test, DNS:api, IP Address:192.0.2.10, IP Address:2001:DB8:0:0:0:0:0:10',
    );
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/Extended Key Usage:\s+TLS Web Server Authentication\n/);
    expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256'); // the intermediate's key
    // The leaf's authority key id is the intermediate's subject key id.
    const ski = openssl(['x509', '-in', '@c', '-noout', '-ext', 'subjectKeyIdentifier'], {
      c: intermediate.cert,
    })
      .split('\n')[1]!
      .trim();
    expect(text).toMatch(new RegExp(`Authority Key Identifier:\\s+(keyid:)?${ski}`));
    expect(text).toContain('X509v3 Subject Key Identifier');

    const fingerprint = openssl(['x509', '-in', '@leaf', '-noout', '-fingerprint', '-sha256'], {
      leaf: leaf.cert,
    });
    expect(fingerprint.trim()).toBe(`sha256 Fingerprint=${info.fingerprintSha256}`);

    const verified = openssl(
      ['verify', '-CAfile', '@root', '-untrusted', '@inter', '-purpose', 'sslserver', '@leaf'],
      { root: root.cert, inter: intermediate.cert, leaf: leaf.cert },
    );
    expect(verified).toMatch(/: OK\n$/);
  });

  it('caps the lifetime at the issuer notAfter', () => {
    const leaf = issue(intermediate, { durationMs: 365 * DAY });
    expect(inspectCertificate(leaf.cert).notAfter).toEqual(
      inspectCertificate(intermediate.cert).notAfter,
    );
  });

  it('refuses a tampered CSR, a wrong key, an expired issuer and a bad duration', () => {
    const key = generatePrivateKey();
    const csr = createCsr({ privateKeyPem: key, dnsNames: ['good.example.test'], ipAddresses: [] });
    const der = Buffer.from(csr.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    const at = der.indexOf('good.example.test');
    expect(at).toBeGreaterThan(0);
    der.write('evil', at, 'ascii');
    const forged = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    expect(parseCsr(forged).dnsNames).toEqual(['evil.example.test']);
    expect(verifyCsr(forged)).toBe(false);
    const sign = (over: Partial<Parameters<typeof signCertificate>[0]>) => () =>
      signCertificate({
        csrPem: csr,
        issuerCertPem: intermediate.cert,
        issuerKeyPem: intermediate.key,
        durationMs: HOUR,
        usages: [],
        ...over,
      });
    expect(sign({ csrPem: forged })).toThrow(/CSR signature is invalid/);
    expect(sign({ csrPem: tamper(csr, 'CERTIFICATE REQUEST', -3) })).toThrow(
      /CSR signature is invalid/,
    );
    expect(sign({ issuerKeyPem: root.key })).toThrow(/issuer key does not match/);
    expect(sign({ now: new Date(Date.now() + 31 * DAY) })).toThrow(/issuer certificate expired/);
    expect(sign({ durationMs: 0 })).toThrow(/duration must be positive/);
    expect(sign({ issuerCertPem: undefined })).toThrow(/issuer certificate is required/);
    expect(sign({ issuerCertPem: undefined, selfSigned: true, issuerKeyPem: root.key })).toThrow(
      /needs the key of the CSR/,
    );
    expect(sign({ issuerCertPem: undefined, selfSigned: true, issuerKeyPem: key })()).toMatch(
      /BEGIN CERTIFICATE/,
    );
  });

  it('tells whether a key belongs to a certificate', () => {
    expect(keyMatchesCertificate(intermediate.key, intermediate.cert)).toBe(true);
    // The first certificate of a bundle counts.
    expect(keyMatchesCertificate(intermediate.key, intermediate.cert + root.cert)).toBe(true);
    expect(keyMatchesCertificate(root.key, intermediate.cert)).toBe(false);
    expect(keyMatchesCertificate(generatePrivateKey(), root.cert)).toBe(false);
  });
});

describe('verifyChain', () => {
  const root = selfSignedCA('Root');
  const intermediate = issue(root, { commonName: 'Intermediate', dnsNames: [], isCA: true });
  const leaf = issue(intermediate, { dnsNames: ['leaf.example.test'] });
  const chain = leaf.cert + intermediate.cert;

  it('accepts a leaf and intermediate against their root, with or without the root appended', () => {
    expect(verifyChain(chain, root.cert)).toEqual({ valid: true });
    expect(verifyChain(chain + root.cert, root.cert)).toEqual({ valid: true });
    expect(verifyChain(intermediate.cert, root.cert)).toEqual({ valid: true });
    expect(verifyChain(root.cert, root.cert)).toEqual({ valid: true });
  });

  it('rejects another root, even one with the same name', () => {
    const other = selfSignedCA('Other Root');
    expect(verifyChain(chain, other.cert)).toEqual({
      valid: false,
      reason: 'certificate 2 (CN=Intermediate) was not issued by root (CN=Other Root)',
    });
    const impostor = selfSignedCA('Root');
    // Same name, other key: the authority key identifier tells them apart.
    expect(verifyChain(chain, impostor.cert)).toEqual({
      valid: false,
      reason: 'certificate 2 (CN=Intermediate) was not issued by root (CN=Root)',
    });
  });

  it('rejects a missing intermediate and a non-CA issuer', () => {
    expect(verifyChain(leaf.cert, root.cert)).toEqual({
      valid: false,
      reason: 'certificate 1 (empty subject) was not issued by root (CN=Root)',
    });
    // A leaf that names itself the issuer, signed with its own key, still is no CA.
    const fake = selfSignedLeaf('Intermediate');
    expect(verifyChain(leaf.cert, fake)).toEqual({
      valid: false,
      reason: 'root (CN=Intermediate) is not a CA',
    });
  });

  it('rejects a tampered certificate', () => {
    // The last byte is in the signature value; the name is in the signed part.
    const badSignature = tamper(leaf.cert, 'CERTIFICATE', -1);
    expect(verifyChain(badSignature + intermediate.cert, root.cert)).toMatchObject({
      valid: false,
      reason: expect.stringMatching(/certificate 1 .* signature/),
    });
    const der = Buffer.from(leaf.cert.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    der.write('evil', der.indexOf('leaf.example.test'), 'ascii');
    const renamed = `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`;
    expect(inspectCertificate(renamed).dnsNames).toEqual(['evil.example.test']);
    expect(verifyChain(renamed + intermediate.cert, root.cert).valid).toBe(false);
    expect(verifyChain('garbage', root.cert)).toEqual({
      valid: false,
      reason: 'the bundle holds no certificate',
    });
  });

  it('rejects an expired certificate, and a chain checked after it expires', () => {
    const past = new Date(Date.now() - 400 * DAY);
    const oldRoot = selfSignedCA('Old Root', { algorithm: 'ECDSA' }, past);
    expect(inspectCertificate(oldRoot.cert).notAfter.getTime()).toBeLessThan(Date.now());
    expect(verifyChain(oldRoot.cert, oldRoot.cert)).toMatchObject({
      valid: false,
      reason: expect.stringMatching(/^root \(CN=Old Root\) expired at /),
    });
    const expiredLeaf = issue(intermediate, {
      now: new Date(Date.now() - 2 * DAY),
      durationMs: DAY,
    });
    expect(verifyChain(expiredLeaf.cert + intermediate.cert, root.cert)).toMatchObject({
      valid: false,
      reason: expect.stringMatching(/^certificate 1 \(empty subject\) expired at /),
    });
    expect(verifyChain(chain, root.cert, new Date(Date.now() + 2 * DAY))).toMatchObject({
      valid: false,
      reason: expect.stringMatching(/^certificate 1 .* expired at /),
    });
    expect(verifyChain(chain, root.cert, new Date(Date.now() - HOUR))).toMatchObject({
      valid: false,
      reason: expect.stringMatching(/is not valid before/),
    });
  });
});

describe('helpers', () => {
  it('splits a PEM bundle, whatever its line endings and surroundings', () => {
    const { cert } = selfSignedCA('Split');
    const bundle = `subject=CN = x\r\n${cert.replace(/\n/g, '\r\n')}junk\n${cert}`;
    expect(splitPem(bundle)).toEqual([cert, cert]);
    expect(splitPem(`${generatePrivateKey()}${cert}`)).toEqual([cert]);
    expect(splitPem('no pem')).toEqual([]);
  });

  it('renews a third of the lifetime ahead, or renewBefore when shorter than the lifetime', () => {
    const notBefore = new Date('2030-01-01T00:00:00Z');
    const notAfter = new Date('2030-04-01T00:00:00Z'); // 90 days
    expect(defaultRenewalTime(notBefore, notAfter)).toEqual(new Date('2030-03-02T00:00:00Z'));
    expect(defaultRenewalTime(notBefore, notAfter, 10 * DAY)).toEqual(
      new Date('2030-03-22T00:00:00Z'),
    );
    // A renewBefore as long as the certificate would renew at once: cert-manager ignores it.
    expect(defaultRenewalTime(notBefore, notAfter, 90 * DAY)).toEqual(
      new Date('2030-03-02T00:00:00Z'),
    );
    // Whole seconds, as stored in status.
    const odd = new Date(notBefore.getTime() + 10_000); // a third is 3333.33 s
    expect(defaultRenewalTime(notBefore, odd)).toEqual(new Date(notBefore.getTime() + 6000));
  });
});
