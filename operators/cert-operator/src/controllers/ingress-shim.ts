import { isIP } from 'node:net';
import { controllerReference, type Ingress, Ingresses } from '@chousei/runtime';
import { type Certificate, Certificates, type IssuerRef } from '../api/types.js';
import { certificateShim, type ShimOptions, type ShimWants, shimRequest } from './shim.js';

/** The Certificates an Ingress asks for, and the input problems (naming the field). */
export function desiredCertificates(ing: Ingress, defaultIssuer?: IssuerRef): ShimWants {
  const request = shimRequest(ing, Ingresses.kind, defaultIssuer);
  if (!request) return { certificates: [], errors: [] };
  if ('refused' in request) return request.refused;
  const { issuerRef, settings, errors } = request;

  const bySecret = new Map<string, number[]>();
  (ing.spec?.tls ?? []).forEach((tls, i) => {
    if (tls.secretName) bySecret.set(tls.secretName, [...(bySecret.get(tls.secretName) ?? []), i]);
  });
  const certificates: Certificate[] = [];
  for (const [secretName, indexes] of bySecret) {
    if (indexes.length > 1) {
      errors.push(
        `spec.tls[${indexes.join('], spec.tls[')}] all name secretName "${secretName}": one Secret cannot hold two certificates`,
      );
      continue;
    }
    const hosts = ing.spec?.tls?.[indexes[0]!]?.hosts ?? [];
    certificates.push({
      apiVersion: Certificates.apiVersion,
      kind: Certificates.kind,
      metadata: {
        name: secretName,
        namespace: ing.metadata?.namespace,
        ownerReferences: [controllerReference(ing, Ingresses)],
      },
      spec: {
        secretName,
        issuerRef,
        dnsNames: hosts.filter((h) => !isIP(h)),
        ...(hosts.some((h) => isIP(h)) ? { ipAddresses: hosts.filter((h) => isIP(h)) } : {}),
        ...settings,
      },
    });
  }
  return { certificates, errors };
}

/**
 * cert-manager's ingress-shim: an Ingress annotated with an issuer gets one Certificate per
 * spec.tls[] entry, named after its secretName, owned by the Ingress and kept in step with
 * its hosts. A Certificate the Ingress does not own is never touched.
 */
export function ingressShim(opts: ShimOptions) {
  return certificateShim({
    ...opts,
    name: 'ingress-shim',
    resource: Ingresses,
    wants: (ing) => desiredCertificates(ing, opts.defaultIssuer),
  });
}
