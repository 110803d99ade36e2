// Property tests of every parser the cert-operator exposes to input it does not control (a
// Secret's tls.crt and tls.key, a CSR, a duration, a Certificate spec): each input, random or
// adversarial up to 1 MiB, parses or throws the parser's typed error within 50 ms.
import {
  checkParser,
  figuresTable,
  MiB,
  mutated,
  repeated,
  repeatedBytes,
} from '@chousei/testenv/hostile';
import * as fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDuration } from '../src/api/duration.js';
import { csrPublicKey } from '../src/pki/csr.js';
import { children, signedParts } from '../src/pki/der.js';
import {
  createCsr,
  generatePrivateKey,
  inspectCertificate,
  keyMatchesCertificate,
  keySpecOf,
  PkiError,
  parseCsr,
  signCertificate,
  splitPem,
  verifyChain,
  verifyCsr,
} from '../src/pki/index.js';
import { pemToDer } from '../src/pki/pem.js';
import { keyIdentifier } from '../src/pki/shared.js';
import { validateCertificate } from '../src/webhook/validation.js';

const isPkiError = (err: unknown) => err instanceof PkiError;
const never = () => false;
const length = (s: { length: number }) => s.length;

const key = generatePrivateKey();
const csrPem = createCsr({ privateKeyPem: key, dnsNames: ['a.test'], ipAddresses: [] });
const certPem = signCertificate({
  csrPem,
  issuerKeyPem: key,
  durationMs: 3_600_000,
  usages: [],
  selfSigned: true,
});
const wrap = (label: string) => (der: Buffer) =>
  `-----BEGIN ${label}-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END ${label}-----\n`;

/** Text that defeats regexes: runs of PEM tags, separators and base64, up to 1 MiB. */
const pemLike = (label: string) =>
  fc.oneof(
    fc.string({ maxLength: 2000 }),
    repeated([
      `-----BEGIN ${label}-----`,
      `-----END ${label}-----`,
      '-----BEGIN ',
      '-----END ',
      '-----',
      '\n',
      '\r\n',
      'MIIB',
      'Proc-Type: 4,ENCRYPTED\n',
      '====',
    ]),
    // One block whose body is up to 1 MiB of base64 (or not quite).
    fc
      .tuple(fc.integer({ min: 0, max: MiB }), fc.constantFrom('QUFB', 'QUF=', '!!!!', 'MIIB\n'))
      .map(
        ([n, body]) =>
          `-----BEGIN ${label}-----\n${body.repeat(n / body.length)}\n-----END ${label}-----\n`,
      ),
  );

/** Valid DER with random edits, random bytes, and nesting and lengths that lie. */
const derLike = (valid: Buffer) =>
  fc.oneof(
    mutated(valid),
    fc.uint8Array({ maxLength: 4096 }).map((b) => Buffer.from(b)),
    // Deep nesting (indefinite and definite lengths), lengths beyond the buffer.
    repeatedBytes([
      Buffer.from([0x30, 0x80]),
      Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
      Buffer.from([0x30, 0x82, 0x10, 0x00]),
      Buffer.from([0xa0, 0x81]),
      Buffer.from([0x00, 0x00]),
      Buffer.from([0x02, 0x01, 0x00]),
    ]),
  );

describe('cert-operator parsers on hostile input', () => {
  afterAll(() => console.log(`hostile-input figures (cert-operator)\n${figuresTable()}`));

  it('splits PEM and decodes a block in linear time', () => {
    checkParser({
      parser: 'splitPem',
      inputs: pemLike('CERTIFICATE'),
      run: (text) => splitPem(text),
      typed: never,
      size: length,
    });
    checkParser({
      parser: 'pemToDer',
      inputs: pemLike('CERTIFICATE'),
      run: (text) => pemToDer(text),
      typed: isPkiError,
      size: length,
    });
  });

  it('reads DER structures or throws PkiError', () => {
    const der = pemToDer(certPem);
    checkParser({
      parser: 'DER signedParts/keyIdentifier',
      inputs: derLike(der),
      // As the readers call them: a few elements of a structure, never all of a megabyte.
      run: (bytes) => {
        children(bytes, 8);
        keyIdentifier(bytes);
        return signedParts(bytes);
      },
      typed: isPkiError,
      size: length,
    });
  });

  it('inspects certificates, keys and CSRs or throws PkiError', () => {
    const certs = fc.oneof(
      pemLike('CERTIFICATE'),
      derLike(pemToDer(certPem)).map(wrap('CERTIFICATE')),
    );
    checkParser({
      parser: 'inspectCertificate',
      inputs: certs,
      run: (pem) => inspectCertificate(pem),
      typed: isPkiError,
      size: length,
    });
    checkParser({
      parser: 'verifyChain',
      inputs: fc.tuple(certs, certs),
      run: ([bundle, root]) => verifyChain(bundle, root),
      typed: never,
      size: ([a, b]) => a.length + b.length,
    });
    const keys = fc.oneof(
      pemLike('PRIVATE KEY'),
      derLike(pemToDer(key, 'PRIVATE KEY')).map(wrap('PRIVATE KEY')),
    );
    checkParser({
      parser: 'keySpecOf',
      inputs: keys,
      run: (pem) => keySpecOf(pem),
      typed: isPkiError,
      size: length,
    });
    checkParser({
      parser: 'keyMatchesCertificate',
      inputs: fc.tuple(keys, certs),
      run: ([k, c]) => keyMatchesCertificate(k, c),
      typed: isPkiError,
      size: ([a, b]) => a.length + b.length,
    });
    const csrs = fc.oneof(
      pemLike('CERTIFICATE REQUEST'),
      derLike(pemToDer(csrPem, 'CERTIFICATE REQUEST')).map(wrap('CERTIFICATE REQUEST')),
    );
    checkParser({
      parser: 'parseCsr/verifyCsr',
      inputs: csrs,
      run: (pem) => {
        parseCsr(pem);
        return verifyCsr(pem);
      },
      typed: isPkiError,
      size: length,
    });
    checkParser({
      parser: 'csrPublicKey',
      inputs: csrs,
      run: (pem) => csrPublicKey(pem),
      typed: isPkiError,
      size: length,
    });
  });

  it('parses durations to a finite number or undefined', () => {
    checkParser({
      parser: 'parseDuration',
      inputs: fc.oneof(
        fc.string({ maxLength: 200 }),
        repeated(['9', '0', '.', 'h', 'm', 's', 'ms', '1.5', 'x']),
        // Numbers past what a double holds.
        fc
          .tuple(fc.integer({ min: 1, max: 100_000 }), fc.constantFrom('h', 'ms', '.9s'))
          .map(([n, unit]) => `${'9'.repeat(n)}${unit}`),
      ),
      run: (text) => {
        const ms = parseDuration(text);
        if (ms !== undefined && !Number.isFinite(ms)) throw new Error(`${ms} ms`);
      },
      typed: never,
      size: length,
    });
  });

  it("validates a Certificate's names, durations and issuer without throwing", () => {
    const hostile = fc.oneof(
      fc.string({ maxLength: 300 }),
      repeated(['a', '.', '-', 'a.', '*.', '0', '!', 'xn--', ':', '@']),
    );
    checkParser({
      parser: 'validateCertificate',
      inputs: fc.record({ name: hostile, duration: hostile, email: hostile }),
      run: ({ name, duration, email }) =>
        validateCertificate({
          apiVersion: 'cert.chousei.dev/v1alpha1',
          kind: 'Certificate',
          metadata: { name: 'c', namespace: 'n' },
          spec: {
            secretName: 's',
            issuerRef: { name: 'i' },
            commonName: name,
            dnsNames: [name, `${name}.test`],
            emailAddresses: [email],
            duration,
            renewBefore: duration,
          },
        }),
      typed: never,
      size: ({ name, duration, email }) => name.length + duration.length + email.length,
    });
  });
});

describe('cert-operator parsers on fixed hostile input', () => {
  it('refuses with PkiError a certificate that parses but whose public key does not decode', () => {
    // The EC point's form octet (04, uncompressed) made 09, no such form: the certificate's
    // structure still parses, and only reading its key fails (found by CI).
    const der = pemToDer(certPem);
    const point = der.indexOf(Buffer.from([0x03, 0x42, 0x00, 0x04])) + 3;
    const broken = Buffer.from(der);
    broken[point] = 0x09;
    const pem = wrap('CERTIFICATE')(broken);
    expect(() => keyMatchesCertificate(key, pem)).toThrow(PkiError);
    expect(() => inspectCertificate(pem)).toThrow(PkiError);
    expect(() =>
      keyMatchesCertificate('-----BEGIN PRIVATE KEY-----\n\n-----END PRIVATE KEY-----\n', certPem),
    ).toThrow(PkiError);
  });
});
