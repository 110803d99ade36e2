// cert-manager's Gateway API shim: a Gateway (or ListenerSet) annotated with an issuer gets
// one Certificate per Secret its HTTPS and TLS listeners terminate TLS with.
import {
  controllerReference,
  type Gateway,
  Gateways,
  type Listener,
  type ListenerSet,
  ListenerSets,
  type ResourceType,
} from '@chousei/runtime';
import { type Certificate, Certificates, type IssuerRef } from '../api/types.js';
import {
  certificateShim,
  type ShimOptions,
  type ShimWants,
  shimAnnotation,
  shimRequest,
} from './shim.js';

/** Listener protocols that terminate TLS with a certificate. */
const TLS_PROTOCOLS = ['HTTPS', 'TLS'];

/** The listeners `ignore-tls-listeners` names (comma-separated, exact names). */
function ignoredListeners(obj: Gateway | ListenerSet): Set<string> {
  const value = shimAnnotation(obj, 'ignore-tls-listeners')?.value ?? '';
  return new Set(value.split(',').map((s) => s.trim()));
}

/** Why a certificate reference cannot get a Certificate, or undefined when it can. */
function refProblem(
  ref: NonNullable<NonNullable<Listener['tls']>['certificateRefs']>[number],
  namespace: string,
  kind: string,
): string | undefined {
  if (ref.group && ref.group !== 'core')
    return `.group: "${ref.group}" is not the core group: only a Secret holds a certificate`;
  if (ref.kind && ref.kind !== 'Secret')
    return `.kind: "${ref.kind}" is not a Secret: only a Secret holds a certificate`;
  if (ref.namespace && ref.namespace !== namespace)
    return `.namespace: "${ref.namespace}": a Certificate is made in the ${kind}'s own namespace, ${namespace}`;
  return undefined;
}

/**
 * The Certificates a Gateway or ListenerSet asks for: per Secret named in the
 * certificateRefs of its HTTPS and TLS listeners in Terminate mode, the hostnames of those
 * listeners. A Passthrough listener is skipped with a note (its backend holds the
 * certificate), one without a hostname with a warning (it serves any name).
 */
export function gatewayCertificates<T extends Gateway | ListenerSet>(
  obj: T,
  rt: ResourceType<T>,
  defaultIssuer?: IssuerRef,
): ShimWants {
  const request = shimRequest(obj, rt.kind, defaultIssuer);
  if (!request) return { certificates: [], errors: [] };
  if ('refused' in request) return request.refused;
  const { issuerRef, settings, errors } = request;
  const skipped: string[] = [];
  const namespace = obj.metadata?.namespace ?? '';
  const ignored = ignoredListeners(obj);
  const hostsBySecret = new Map<string, string[]>();
  for (const [i, l] of (obj.spec?.listeners ?? []).entries()) {
    if (!TLS_PROTOCOLS.includes(l.protocol) || ignored.has(l.name)) continue;
    const field = `spec.listeners[${i}]`;
    if (l.tls?.mode === 'Passthrough') {
      skipped.push(
        `${field} (${l.name}): TLS mode Passthrough: the backend terminates TLS, so no certificate is made for it`,
      );
      continue;
    }
    if (!l.hostname) {
      errors.push(
        `${field}.hostname: listener ${l.name} has none (it serves any name): a certificate needs the names it is for`,
      );
      continue;
    }
    const refs = l.tls?.certificateRefs ?? [];
    if (!refs.length)
      errors.push(`${field}.tls.certificateRefs: listener ${l.name} names no Secret`);
    for (const [j, ref] of refs.entries()) {
      const problem = refProblem(ref, namespace, rt.kind);
      if (problem) {
        errors.push(`${field}.tls.certificateRefs[${j}]${problem}`);
        continue;
      }
      const hosts = hostsBySecret.get(ref.name) ?? [];
      if (!hosts.includes(l.hostname)) hosts.push(l.hostname);
      hostsBySecret.set(ref.name, hosts);
    }
  }
  const certificates: Certificate[] = [...hostsBySecret].map(([secretName, dnsNames]) => ({
    apiVersion: Certificates.apiVersion,
    kind: Certificates.kind,
    metadata: {
      name: secretName,
      namespace,
      ownerReferences: [controllerReference(obj, rt)],
    },
    spec: { secretName, issuerRef, dnsNames, ...settings },
  }));
  return { certificates, errors, skipped };
}

/**
 * The Gateway shim, and with `listenerSets` the ListenerSet one: their Certificates are
 * owned by them and kept in step with their listeners, as the Ingress shim does.
 */
export function gatewayShims(opts: ShimOptions & { listenerSets: boolean }) {
  const gateways = certificateShim({
    ...opts,
    name: 'gateway-shim',
    resource: Gateways,
    wants: (gw) => gatewayCertificates(gw, Gateways, opts.defaultIssuer),
  });
  const sets = opts.listenerSets
    ? certificateShim({
        ...opts,
        name: 'listenerset-shim',
        resource: ListenerSets,
        wants: (ls) => gatewayCertificates(ls, ListenerSets, opts.defaultIssuer),
      })
    : undefined;
  return { gateways, listenerSets: sets };
}
