import {
  collectedGauge,
  type GaugeSample,
  isConditionTrue,
  type Manager,
  type Store,
  whenAborted,
} from '@chousei/runtime';
import type { Certificate } from '../api/types.js';

const expiration = collectedGauge(
  'chousei_cert_certificate_expiration_timestamp_seconds',
  'When the certificate in the Secret expires',
  ['namespace', 'name', 'issuer_name', 'issuer_kind'],
);
const renewal = collectedGauge(
  'chousei_cert_certificate_renewal_timestamp_seconds',
  'When the certificate will be renewed',
  ['namespace', 'name', 'issuer_name', 'issuer_kind'],
);
const readyStatus = collectedGauge(
  'chousei_cert_certificate_ready_status',
  'Ready condition of the Certificate (1 for the current status; False also while it has none)',
  ['namespace', 'name', 'condition'],
);

type TimeLabels = 'namespace' | 'name' | 'issuer_name' | 'issuer_kind';

/** The Certificates whose series are exported: deleted ones (finalizer pending) have none. */
function* live(certificates: Store<Certificate>): Generator<Certificate> {
  for (const cert of certificates.list()) if (!cert.metadata?.deletionTimestamp) yield cert;
}

/** Unix seconds of a status time, as the status has them (to the second). */
const seconds = (time: string) => Math.floor(Date.parse(time) / 1000);

function* times(
  certificates: Store<Certificate>,
  field: 'notAfter' | 'renewalTime',
): Generator<GaugeSample<TimeLabels>> {
  for (const cert of live(certificates)) {
    const time = cert.status?.[field];
    if (!time) continue;
    const labels = {
      namespace: cert.metadata?.namespace ?? '',
      name: cert.metadata?.name ?? '',
      issuer_name: cert.spec.issuerRef.name,
      issuer_kind: cert.spec.issuerRef.kind ?? 'Issuer',
    };
    yield { labels, value: seconds(time) };
  }
}

function* ready(
  certificates: Store<Certificate>,
): Generator<GaugeSample<'namespace' | 'name' | 'condition'>> {
  for (const cert of live(certificates)) {
    const ref = { namespace: cert.metadata?.namespace ?? '', name: cert.metadata?.name ?? '' };
    const isReady = isConditionTrue(cert.status?.conditions, 'Ready');
    yield { labels: { ...ref, condition: 'True' }, value: isReady ? 1 : 0 };
    yield { labels: { ...ref, condition: 'False' }, value: isReady ? 0 : 1 };
  }
}

/**
 * Exports each cached Certificate's series as its status tells (so the alerts on them hold
 * across restarts and backoffs), read at each scrape: a Certificate gone, or naming another
 * issuer, leaves no series behind, and nothing is kept per Certificate between scrapes.
 * Only while this replica leads, as only the leader keeps the statuses current.
 */
export function exportCertificateMetrics(manager: Manager, certificates: Store<Certificate>): void {
  manager.add({
    name: 'certificate metrics',
    needsLeaderElection: true,
    start: async (signal) => {
      const removals = [
        expiration.collectFrom(() => times(certificates, 'notAfter')),
        renewal.collectFrom(() => times(certificates, 'renewalTime')),
        readyStatus.collectFrom(() => ready(certificates)),
      ];
      await whenAborted(signal);
      for (const remove of removals) remove();
    },
  });
}
