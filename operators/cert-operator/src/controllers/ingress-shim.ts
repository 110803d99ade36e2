import { isIP } from 'node:net';
import {
  type ApiError,
  controllerReference,
  type EventRecorder,
  ForbiddenError,
  getControllerOf,
  type InformerScope,
  type Ingress,
  Ingresses,
  InvalidError,
  isNotFound,
  type Manager,
  notFoundIsUndefined,
  type Request,
} from '@chousei/runtime';
import { DURATION_PATTERN } from '../api/duration.js';
import {
  type Certificate,
  type CertificateSpec,
  Certificates,
  type IssuerRef,
} from '../api/types.js';

const FIELD_MANAGER = 'chousei-ingress-shim';

/** Annotation prefixes read, ours first: cert-manager's work unchanged (zero-change migration). */
const PREFIXES = ['cert.chousei.dev/', 'cert-manager.io/'];

export interface IngressShimOptions {
  manager: Manager;
  events: EventRecorder;
  /** The operator's one scope of namespaced kinds (see servedScope). */
  scope: InformerScope;
  /** The issuer for `kubernetes.io/tls-acme: "true"` Ingresses (cert-manager's default issuer flags). */
  defaultIssuer?: IssuerRef;
}

function annotation(ing: Ingress, name: string): { key: string; value: string } | undefined {
  for (const prefix of PREFIXES) {
    const key = `${prefix}${name}`;
    const value = ing.metadata?.annotations?.[key];
    if (value !== undefined) return { key, value };
  }
  return undefined;
}

/** The issuer an Ingress asks for, if any. */
export function issuerOf(ing: Ingress, defaultIssuer?: IssuerRef): IssuerRef | undefined {
  const cluster = annotation(ing, 'cluster-issuer');
  if (cluster) return { name: cluster.value, kind: 'ClusterIssuer' };
  const ns = annotation(ing, 'issuer');
  if (ns) return { name: ns.value, kind: 'Issuer' };
  if (ing.metadata?.annotations?.['kubernetes.io/tls-acme'] === 'true') return defaultIssuer;
  return undefined;
}

/**
 * The Certificates an Ingress asks for, and the input problems (naming the field). `refused`:
 * the issuer annotations contradict each other, and cert-manager refuses such an Ingress
 * whole: nothing is made, and the Certificates it has are left as they are.
 */
export function desiredCertificates(
  ing: Ingress,
  defaultIssuer?: IssuerRef,
): { certificates: Certificate[]; errors: string[]; refused?: true } {
  const [issuer, cluster] = [annotation(ing, 'issuer'), annotation(ing, 'cluster-issuer')];
  if (issuer && cluster) {
    const error = `metadata.annotations: both ${issuer.key} and ${cluster.key} may not be set (cert-manager refuses such an Ingress too): no Certificate is made or changed`;
    return { certificates: [], errors: [error], refused: true };
  }
  const issuerRef = issuerOf(ing, defaultIssuer);
  const errors: string[] = [];
  if (!issuerRef) return { certificates: [], errors };
  const extra: Partial<CertificateSpec> = {};
  const durationRe = new RegExp(DURATION_PATTERN);
  for (const [name, field] of [
    ['duration', 'duration'],
    ['renew-before', 'renewBefore'],
  ] as const) {
    const a = annotation(ing, name);
    if (!a) continue;
    if (durationRe.test(a.value)) extra[field] = a.value;
    else
      errors.push(
        `metadata.annotations[${a.key}]: "${a.value}" is not a duration such as 2160h or 90m`,
      );
  }
  const cn = annotation(ing, 'common-name');
  if (cn) extra.commonName = cn.value;
  const algo = annotation(ing, 'private-key-algorithm');
  const size = annotation(ing, 'private-key-size');
  if (algo || size) {
    // A size alone is an RSA size, as cert-manager reads it.
    const algorithm = (algo?.value ?? 'RSA') as NonNullable<
      CertificateSpec['privateKey']
    >['algorithm'];
    if (algo && !['ECDSA', 'RSA', 'Ed25519'].includes(algo.value)) {
      errors.push(
        `metadata.annotations[${algo.key}]: "${algo.value}" is not ECDSA, RSA or Ed25519`,
      );
    } else {
      extra.privateKey = { algorithm, ...(size ? { size: Number(size.value) } : {}) };
    }
  }

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
        ...extra,
      },
    });
  }
  return { certificates, errors };
}

/** Refused for its content: the schema (422) or an admission webhook's denial. */
function refusedAsInvalid(err: unknown): err is ApiError {
  return (
    err instanceof InvalidError ||
    (err instanceof ForbiddenError && err.message.includes('denied the request'))
  );
}
/**
 * cert-manager's ingress-shim: an Ingress annotated with an issuer gets one Certificate per
 * spec.tls[] entry, named after its secretName, owned by the Ingress and kept in step with
 * its hosts. A Certificate the Ingress does not own is never touched.
 */
export function ingressShim(opts: IngressShimOptions) {
  const { manager, events, scope } = opts;
  const client = manager.client;
  const owned = manager.cache.informer(Certificates, scope);

  return manager
    .controller('ingress-shim')
    .for(Ingresses, scope)
    .owns(Certificates, scope)
    .complete(async (req: Request) => {
      const ing = await manager.cache.get(Ingresses, req, scope).catch(notFoundIsUndefined);
      const ns = req.namespace ?? '';
      const mine = owned.store
        .byIndex('namespace', ns)
        .filter(
          (c) =>
            getControllerOf(c)?.kind === 'Ingress' &&
            getControllerOf(c)?.name === req.name &&
            (!ing || getControllerOf(c)?.uid === ing.metadata?.uid),
        );
      const { certificates, errors, refused } =
        ing && !ing.metadata?.deletionTimestamp
          ? desiredCertificates(ing, opts.defaultIssuer)
          : { certificates: [], errors: [] };
      for (const e of errors) events.event(ing!, 'Warning', 'BadConfig', 'CreateCertificate', e);
      if (refused) return;

      for (const want of certificates) {
        const name = want.metadata?.name ?? '';
        const existing = owned.store.get(`${ns}/${name}`);
        if (existing && getControllerOf(existing)?.uid !== ing?.metadata?.uid) {
          events.event(
            ing!,
            'Warning',
            'BadConfig',
            'CreateCertificate',
            `Certificate ${name} exists and is not owned by this Ingress: left alone`,
          );
          continue;
        }
        try {
          await client.apply(Certificates, want, { fieldManager: FIELD_MANAGER, force: true });
        } catch (err) {
          // What the Ingress asks for is invalid (schema or webhook): retrying cannot help,
          // and its owner only looks at the Ingress. A change to it reconciles again.
          if (!refusedAsInvalid(err)) throw err;
          events.event(
            ing!,
            'Warning',
            'BadConfig',
            'CreateCertificate',
            `Certificate ${name} refused: ${err.message}`,
          );
          continue;
        }
        if (!existing)
          events.event(
            ing!,
            'Normal',
            'CreateCertificate',
            'CreateCertificate',
            `Created Certificate ${name}`,
          );
      }
      const wanted = new Set(certificates.map((c) => c.metadata?.name));
      for (const stale of mine) {
        if (wanted.has(stale.metadata?.name)) continue;
        await client
          .delete(Certificates, { namespace: ns, name: stale.metadata?.name ?? '' })
          .catch((err: unknown) => {
            if (!isNotFound(err)) throw err;
          });
        if (ing)
          events.event(
            ing,
            'Normal',
            'DeleteCertificate',
            'DeleteCertificate',
            `Deleted Certificate ${stale.metadata?.name}`,
          );
      }
    });
}
