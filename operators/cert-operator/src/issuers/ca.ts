import * as x509 from '@peculiar/x509';
import { IssuanceError } from '../issuance.js';
import {
  inspectCertificate,
  type ParsedCertificate,
  parseCertificate,
  splitPem,
  verifyChain,
} from '../pki/certificate.js';
import { keyMatchesPublicKey } from '../pki/keys.js';
import { pemToDer } from '../pki/pem.js';
import { signCertificate } from '../pki/sign.js';
import type { CertificateRequest, IssueContext, IssuedCertificate, Issuer } from './issuer.js';

export interface CAKeyPair {
  /** PEM: the CA certificate first, optionally followed by its own chain up to the root. */
  certPem: string;
  /** PEM of the CA's private key. */
  keyPem: string;
}

/**
 * Signs requests with a CA kept in a Secret (cert-manager's CA issuer). The CA is checked on
 * every issue rather than at construction: it expires, and the Secret may be replaced.
 */
export class CAIssuer implements Issuer {
  readonly kind = 'CA' as const;

  constructor(private readonly ca: CAKeyPair) {}

  async issue(req: CertificateRequest, ctx: IssueContext): Promise<IssuedCertificate> {
    ctx.signal.throwIfAborted();
    const chain = this.checkedChain(new Date());
    let leaf: string;
    try {
      leaf = signCertificate({
        csrPem: req.csrPem,
        issuerCertPem: chain[0],
        issuerKeyPem: this.ca.keyPem,
        durationMs: req.durationMs,
        usages: req.usages,
        isCA: req.isCA ?? false,
      });
    } catch (err) {
      // The CA passed its checks above, so what fails now is the request.
      throw new IssuanceError('InvalidRequest', (err as Error).message, false, undefined, {
        cause: err,
      });
    }
    ctx.log.debug({ certificate: req.certificate }, 'issued certificate from CA');
    return {
      certificatePem: leaf + chain.join(''),
      caPem: chain.at(-1),
      info: inspectCertificate(leaf),
    };
  }

  /** The CA bundle's certificates once they can sign now; IssuanceError `InvalidCA` if not. */
  private checkedChain(now: Date): [string, ...string[]] {
    const chain = splitPem(this.ca.certPem);
    const [caPem] = chain;
    if (caPem === undefined) throw invalid('the CA certificate PEM holds no certificate');
    let parsed: ParsedCertificate;
    try {
      parsed = parseCertificate(caPem);
    } catch (err) {
      throw invalid(`the CA certificate cannot be read: ${(err as Error).message}`, err);
    }
    const { info } = parsed;
    let matches: boolean;
    try {
      matches = keyMatchesPublicKey(this.ca.keyPem, parsed.publicKey);
    } catch (err) {
      throw invalid(`the CA private key cannot be read: ${(err as Error).message}`, err);
    }
    if (!matches) throw invalid('the CA private key does not match the CA certificate');
    if (!info.isCA) {
      throw invalid(`the certificate ${info.subject || '(empty subject)'} is not a CA`);
    }
    // A keyUsage extension, when present, must allow certificate signing (RFC 5280 4.2.1.3).
    const keyUsage = new x509.X509Certificate(pemToDer(caPem)).getExtension(
      x509.KeyUsagesExtension,
    );
    if (keyUsage && (keyUsage.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
      throw invalid('the CA certificate key usage does not allow signing certificates');
    }
    if (info.notAfter <= now) {
      throw invalid(`the CA certificate expired at ${info.notAfter.toISOString()}`);
    }
    if (info.notBefore > now) {
      // It becomes usable by itself, so this one is worth retrying.
      throw new IssuanceError(
        'InvalidCA',
        `the CA certificate is not valid before ${info.notBefore.toISOString()}`,
        true,
        info.notBefore.getTime() - now.getTime(),
      );
    }
    // Hand out only a chain that verifies: a broken CA bundle would break every leaf.
    const verdict = verifyChain(this.ca.certPem, chain.at(-1)!, now);
    if (!verdict.valid) throw invalid(`the CA chain does not verify: ${verdict.reason}`);
    return [caPem, ...chain.slice(1)];
  }
}

function invalid(message: string, cause?: unknown): IssuanceError {
  return new IssuanceError('InvalidCA', message, false, undefined, { cause });
}
