import { IssuanceError } from '../issuance.js';
import { inspectCertificate } from '../pki/certificate.js';
import { signCertificate } from '../pki/sign.js';
import type { CertificateRequest, IssueContext, IssuedCertificate, Issuer } from './issuer.js';

/** Signs each request with its own key: the certificate is its own CA (cert-manager's SelfSigned). */
export class SelfSignedIssuer implements Issuer {
  readonly kind = 'SelfSigned' as const;

  async issue(req: CertificateRequest, ctx: IssueContext): Promise<IssuedCertificate> {
    ctx.signal.throwIfAborted();
    let certificatePem: string;
    try {
      certificatePem = signCertificate({
        csrPem: req.csrPem,
        issuerKeyPem: req.privateKeyPem,
        durationMs: req.durationMs,
        usages: req.usages,
        isCA: req.isCA ?? false,
        selfSigned: true,
      });
    } catch (err) {
      // Signing locally fails only on what the request holds, so retrying cannot help.
      throw new IssuanceError('InvalidRequest', (err as Error).message, false, undefined, {
        cause: err,
      });
    }
    ctx.log.debug({ certificate: req.certificate }, 'issued self-signed certificate');
    return { certificatePem, caPem: certificatePem, info: inspectCertificate(certificatePem) };
  }
}
