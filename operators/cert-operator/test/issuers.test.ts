// SelfSigned and CA issuers end to end through the Issuer interface: what they hand back
// (leaf, chain, CA), and the CAs the CA issuer refuses with InvalidCA.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@chousei/runtime';
import { afterAll, describe, expect, it } from 'vitest';
import { IssuanceError } from '../src/issuance.js';
import { CAIssuer } from '../src/issuers/ca.js';
import type { CertificateRequest, IssueContext, Issuer } from '../src/issuers/issuer.js';
import { SelfSignedIssuer } from '../src/issuers/selfsigned.js';
import type { PrivateKeySpec } from '../src/pki/index.js';
import {
  createCsr,
  generatePrivateKey,
  inspectCertificate,
  signCertificate,
  splitPem,
  verifyChain,
} from '../src/pki/index.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const dir = mkdtempSync(join(tmpdir(), 'chousei-issuers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ctx = (): IssueContext => ({
  signal: new AbortController().signal,
  log: silentLogger,
  save: async () => {},
});

function request(
  opts: Partial<Omit<CertificateRequest, 'privateKeyPem' | 'csrPem'>> & {
    key?: PrivateKeySpec;
  } = {},
): CertificateRequest {
  const privateKeyPem = generatePrivateKey(opts.key);
  const names = {
    ...(opts.commonName && { commonName: opts.commonName }),
    dnsNames: opts.dnsNames ?? ['web.example.test'],
    ipAddresses: opts.ipAddresses ?? [],
  };
  return {
    certificate: 'default/web',
    ...names,
    durationMs: opts.durationMs ?? DAY,
    usages: opts.usages ?? [],
    privateKeyPem,
    csrPem: createCsr({ privateKeyPem, ...names, ...(opts.isCA && { isCA: true }) }),
    ...(opts.isCA && { isCA: true }),
  };
}

/** A CA key pair made by our own signer. */
function makeCA(
  name: string,
  opts: { parent?: { certPem: string; keyPem: string }; now?: Date; durationMs?: number } = {},
): { certPem: string; keyPem: string } {
  const keyPem = generatePrivateKey();
  const certPem = signCertificate({
    csrPem: createCsr({ privateKeyPem: keyPem, commonName: name, dnsNames: [], ipAddresses: [] }),
    ...(opts.parent
      ? { issuerCertPem: opts.parent.certPem, issuerKeyPem: opts.parent.keyPem }
      : { issuerKeyPem: keyPem, selfSigned: true }),
    durationMs: opts.durationMs ?? 365 * DAY,
    usages: [],
    isCA: true,
    ...(opts.now && { now: opts.now }),
  });
  return { certPem, keyPem };
}

/** A CA key pair made by the openssl CLI, with the given extra `-addext` values. */
function opensslCA(name: string, addext: string[]): { certPem: string; keyPem: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-subj',
      `/O=Chousei/CN=${name}`,
      '-days',
      '2',
      ...addext.flatMap((e) => ['-addext', e]),
    ],
    { stdio: 'ignore' },
  );
  return { certPem: readFileSync(cert, 'utf8'), keyPem: readFileSync(key, 'utf8') };
}

function opensslVerify(rootPem: string, chainPem: string): string {
  const [leaf, ...rest] = splitPem(chainPem);
  const files = { root: rootPem, leaf: leaf!, chain: rest.join('') };
  for (const [name, pem] of Object.entries(files)) writeFileSync(join(dir, `v-${name}.pem`), pem);
  return execFileSync(
    'openssl',
    [
      'verify',
      '-CAfile',
      join(dir, 'v-root.pem'),
      ...(rest.length > 0 ? ['-untrusted', join(dir, 'v-chain.pem')] : []),
      join(dir, 'v-leaf.pem'),
    ],
    { encoding: 'utf8' },
  );
}

async function refusal(
  issuer: Issuer,
  req: CertificateRequest = request(),
): Promise<IssuanceError> {
  const err = await issuer.issue(req, ctx()).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(IssuanceError);
  return err as IssuanceError;
}

describe('SelfSignedIssuer', () => {
  const issuer: Issuer = new SelfSignedIssuer();

  it('signs the request with its own key; the certificate is its own CA', async () => {
    expect(issuer.kind).toBe('SelfSigned');
    const req = request({
      commonName: 'web.example.test',
      dnsNames: ['web.example.test'],
      ipAddresses: ['192.0.2.80'],
      key: { algorithm: 'RSA', size: 2048 },
      durationMs: 30 * DAY,
    });
    const issued = await issuer.issue(req, ctx());
    expect(issued.caPem).toBe(issued.certificatePem);
    expect(splitPem(issued.certificatePem)).toHaveLength(1);
    const info = inspectCertificate(issued.certificatePem);
    expect(info).toMatchObject({
      subject: 'CN=web.example.test',
      issuer: 'CN=web.example.test',
      dnsNames: ['web.example.test'],
      ipAddresses: ['192.0.2.80'],
      isCA: false,
      usages: ['digital signature', 'key encipherment', 'server auth'],
      keyAlgorithm: { algorithm: 'RSA', size: 2048 },
    });
    expect(info.notAfter.getTime() - info.notBefore.getTime()).toBeGreaterThan(30 * DAY);
    expect(verifyChain(issued.certificatePem, issued.caPem!)).toEqual({ valid: true });
    expect(opensslVerify(issued.caPem!, issued.certificatePem)).toMatch(/: OK/);
  });

  it('makes a CA that the CA issuer then accepts', async () => {
    const req = request({ commonName: 'Self CA', dnsNames: [], isCA: true });
    const issued = await issuer.issue(req, ctx());
    expect(inspectCertificate(issued.certificatePem)).toMatchObject({ isCA: true });
    const leaf = await new CAIssuer({
      certPem: issued.certificatePem,
      keyPem: req.privateKeyPem,
    }).issue(request(), ctx());
    expect(verifyChain(leaf.certificatePem, leaf.caPem!)).toEqual({ valid: true });
  });

  it('refuses a CSR that is not for the request key, or is tampered with', async () => {
    const req = request();
    const other = request();
    const mismatch = await refusal(issuer, { ...req, csrPem: other.csrPem });
    expect(mismatch).toMatchObject({ reason: 'InvalidRequest', retryable: false });
    expect(mismatch.message).toMatch(/needs the key of the CSR/);

    const der = Buffer.from(req.csrPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    der.write('evil', der.indexOf('web.example.test'), 'ascii');
    const forged = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    const tampered = await refusal(issuer, { ...req, csrPem: forged });
    expect(tampered).toMatchObject({ reason: 'InvalidRequest', retryable: false });
    expect(tampered.message).toMatch(/CSR signature is invalid/);
  });

  it('does nothing once aborted', async () => {
    const aborted = new AbortController();
    aborted.abort();
    await expect(
      issuer.issue(request(), { ...ctx(), signal: aborted.signal }),
    ).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('CAIssuer', () => {
  const root = makeCA('Chousei Root');
  const intermediate = makeCA('Chousei Intermediate', { parent: root, durationMs: 10 * DAY });

  it('issues a leaf with the CA chain, and the root as CA', async () => {
    const issuer: Issuer = new CAIssuer({
      certPem: intermediate.certPem + root.certPem,
      keyPem: intermediate.keyPem,
    });
    expect(issuer.kind).toBe('CA');
    const issued = await issuer.issue(
      request({
        commonName: 'api.example.test',
        dnsNames: ['api.example.test'],
        ipAddresses: ['2001:db8::443'],
        usages: ['digital signature', 'server auth', 'client auth'],
        key: { algorithm: 'ECDSA', size: 384 },
      }),
      ctx(),
    );
    const [leaf, ...chain] = splitPem(issued.certificatePem);
    expect(chain).toEqual([intermediate.certPem, root.certPem]);
    expect(issued.caPem).toBe(root.certPem);
    expect(inspectCertificate(leaf!)).toMatchObject({
      subject: 'CN=api.example.test',
      issuer: 'CN=Chousei Intermediate',
      dnsNames: ['api.example.test'],
      ipAddresses: ['2001:db8::443'],
      isCA: false,
      usages: ['digital signature', 'server auth', 'client auth'],
      keyAlgorithm: { algorithm: 'ECDSA', size: 384 },
    });
    expect(verifyChain(issued.certificatePem, issued.caPem!)).toEqual({ valid: true });
    expect(opensslVerify(issued.caPem!, issued.certificatePem)).toMatch(/: OK/);
  });

  it('with a single CA certificate, chains the leaf to it', async () => {
    const issued = await new CAIssuer(root).issue(request(), ctx());
    expect(splitPem(issued.certificatePem)).toHaveLength(2);
    expect(issued.caPem).toBe(root.certPem);
    expect(verifyChain(issued.certificatePem, root.certPem)).toEqual({ valid: true });
  });

  it('caps the leaf lifetime at the CA notAfter', async () => {
    const issued = await new CAIssuer(intermediate).issue(request({ durationMs: 90 * DAY }), ctx());
    expect(inspectCertificate(issued.certificatePem).notAfter).toEqual(
      inspectCertificate(intermediate.certPem).notAfter,
    );
  });

  it('signs with a CA made by the openssl CLI', async () => {
    const ca = opensslCA('openssl-ca', [
      'basicConstraints=critical,CA:TRUE',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    const issued = await new CAIssuer(ca).issue(
      request({ dnsNames: ['interop.example.test'] }),
      ctx(),
    );
    expect(inspectCertificate(issued.certificatePem).issuer).toBe('O=Chousei, CN=openssl-ca');
    expect(verifyChain(issued.certificatePem, ca.certPem)).toEqual({ valid: true });
    expect(opensslVerify(ca.certPem, issued.certificatePem)).toMatch(/: OK/);
  });

  describe('refuses with InvalidCA', () => {
    const expectInvalid = async (ca: { certPem: string; keyPem: string }, message: RegExp) => {
      const err = await refusal(new CAIssuer(ca));
      expect(err).toMatchObject({ reason: 'InvalidCA', retryable: false });
      expect(err.message).toMatch(message);
    };

    it('a key that does not match the certificate', async () => {
      await expectInvalid(
        { certPem: root.certPem, keyPem: intermediate.keyPem },
        /private key does not match the CA certificate/,
      );
    });

    it('a certificate that is not a CA', async () => {
      const req = request({ commonName: 'leaf.example.test' });
      const leaf = await new SelfSignedIssuer().issue(req, ctx());
      await expectInvalid(
        { certPem: leaf.certificatePem, keyPem: req.privateKeyPem },
        /^the certificate CN=leaf\.example\.test is not a CA$/,
      );
    });

    it('a CA whose key usage forbids signing certificates', async () => {
      const ca = opensslCA('no-certsign', [
        'basicConstraints=critical,CA:TRUE',
        'keyUsage=critical,digitalSignature',
      ]);
      await expectInvalid(ca, /key usage does not allow signing certificates/);
    });

    it('an expired CA', async () => {
      const expired = makeCA('Expired', { now: new Date(Date.now() - 2 * DAY), durationMs: DAY });
      await expectInvalid(expired, /CA certificate expired at /);
    });

    it('a CA bundle whose chain does not verify', async () => {
      const stranger = makeCA('Stranger');
      await expectInvalid(
        { certPem: intermediate.certPem + stranger.certPem, keyPem: intermediate.keyPem },
        /CA chain does not verify: certificate 1 \(CN=Chousei Intermediate\) was not issued by root \(CN=Stranger\)/,
      );
    });

    it('unreadable PEMs', async () => {
      await expectInvalid({ certPem: 'nothing', keyPem: root.keyPem }, /holds no certificate/);
      await expectInvalid(
        { certPem: root.certPem, keyPem: 'not a key' },
        /CA private key cannot be read/,
      );
    });

    it('a CA that is not valid yet, retryable once it is', async () => {
      const future = makeCA('Future', { now: new Date(Date.now() + HOUR) });
      const err = await refusal(new CAIssuer(future));
      expect(err).toMatchObject({ reason: 'InvalidCA', retryable: true });
      expect(err.message).toMatch(/not valid before/);
      expect(err.retryAfterMs).toBeGreaterThan(HOUR - 2 * 60_000);
      expect(err.retryAfterMs).toBeLessThanOrEqual(HOUR);
    });
  });
});
