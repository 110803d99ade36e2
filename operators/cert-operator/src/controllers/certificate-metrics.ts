import { gauge } from '@chousei/runtime';
import type { Certificate } from '../api/types.js';

const expiration = gauge(
  'chousei_cert_certificate_expiration_timestamp_seconds',
  'When the certificate in the Secret expires',
  ['namespace', 'name', 'issuer_name', 'issuer_kind'],
);
const renewal = gauge(
  'chousei_cert_certificate_renewal_timestamp_seconds',
  'When the certificate will be renewed',
  ['namespace', 'name', 'issuer_name', 'issuer_kind'],
);
const readyStatus = gauge(
  'chousei_cert_certificate_ready_status',
  'Ready condition of the Certificate (1 for the current status; False also while it has none)',
  ['namespace', 'name', 'condition'],
);

interface Ref {
  namespace?: string;
  name: string;
}
type Labels = Record<'namespace' | 'name' | 'issuer_name' | 'issuer_kind', string>;

const refOf = (cert: Certificate) => ({
  namespace: cert.metadata?.namespace ?? '',
  name: cert.metadata?.name ?? '',
});
const id = (ref: Ref) => `${ref.namespace ?? ''}/${ref.name}`;

/**
 * The series of each Certificate, as its status tells (so the alerts on them hold across
 * restarts and backoffs), and gone with the Certificate or with the issuer it names no
 * more: a series left behind would alert on a certificate nobody has.
 */
export class CertificateMetrics {
  private readonly issuerLabels = new Map<string, Labels>();

  /** What the status says: Ready, and the certificate the Secret held when last read. */
  observe(cert: Certificate): void {
    const ready = cert.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    this.ready(refOf(cert), !!ready);
    const { notAfter, renewalTime } = cert.status ?? {};
    if (notAfter && renewalTime) this.times(cert, new Date(notAfter), new Date(renewalTime));
  }

  /** A certificate in the Secret, up to date: Ready. */
  issued(cert: Certificate, notAfter: Date, renewAt: Date): void {
    this.times(cert, notAfter, renewAt);
    this.ready(refOf(cert), true);
  }

  /** Ready=False written (issuance failed, issuer missing or not ready). */
  notReady(cert: Certificate): void {
    this.ready(refOf(cert), false);
  }

  /** The Certificate is gone: every series of it. */
  forget(ref: Ref): void {
    const labels = this.issuerLabels.get(id(ref));
    if (labels) {
      expiration.remove(labels);
      renewal.remove(labels);
      this.issuerLabels.delete(id(ref));
    }
    for (const condition of ['True', 'False'])
      readyStatus.remove({ namespace: ref.namespace ?? '', name: ref.name, condition });
  }

  private times(cert: Certificate, notAfter: Date, renewAt: Date): void {
    const labels: Labels = {
      ...refOf(cert),
      issuer_name: cert.spec.issuerRef.name,
      issuer_kind: cert.spec.issuerRef.kind ?? 'Issuer',
    };
    const before = this.issuerLabels.get(id(labels));
    if (
      before &&
      (before.issuer_name !== labels.issuer_name || before.issuer_kind !== labels.issuer_kind)
    ) {
      expiration.remove(before);
      renewal.remove(before);
    }
    this.issuerLabels.set(id(labels), labels);
    // To the second, as the status has them: observe() and issued() agree.
    expiration.set(labels, Math.floor(notAfter.getTime() / 1000));
    renewal.set(labels, Math.floor(renewAt.getTime() / 1000));
  }

  private ready(ref: { namespace: string; name: string }, ready: boolean): void {
    readyStatus.set({ ...ref, condition: 'True' }, ready ? 1 : 0);
    readyStatus.set({ ...ref, condition: 'False' }, ready ? 0 : 1);
  }
}
