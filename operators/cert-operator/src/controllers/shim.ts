// What cert-manager's certificate shims share: the annotations an Ingress, Gateway or
// ListenerSet asks for a certificate with, and the controller that keeps the Certificates
// it owns in step with what it asks for.
import {
  type ApiError,
  type Client,
  type EventRecorder,
  ForbiddenError,
  getControllerOf,
  type InformerScope,
  InvalidError,
  isNotFound,
  type KubeObject,
  type Manager,
  notFoundIsUndefined,
  type Request,
  type ResourceType,
} from '@chousei/runtime';
import { parseDuration } from '../api/duration.js';
import {
  type Certificate,
  type CertificateSpec,
  Certificates,
  type IssuerRef,
} from '../api/types.js';

/** Annotation prefixes read, ours first: cert-manager's work unchanged (zero-change migration). */
const PREFIXES = ['cert.chousei.dev/', 'cert-manager.io/'];

/**
 * One field manager for every shim (named when only Ingresses had one): a Certificate handed
 * from one shim object to another is then wholly the new owner's at its next apply.
 */
const FIELD_MANAGER = 'chousei-ingress-shim';

/** A shim object's wish for one Certificate (its Secret's name). */
interface Heir {
  kind: string;
  owner: KubeObject;
  certificate: Certificate;
}

/**
 * Every shim of the operator: a Certificate that one object (an Ingress) lets go of passes to
 * another object of the namespace asking for the same Secret (a Gateway), instead of being
 * deleted with its Secret and issued again. So moving a name from an Ingress to a Gateway
 * keeps serving the same certificate throughout.
 */
export class ShimRegistry {
  private readonly shims: Array<(namespace: string, secret: string) => Heir[]> = [];

  add(wanting: (namespace: string, secret: string) => Heir[]): void {
    this.shims.push(wanting);
  }

  /** The oldest other object asking for the Certificate of `secret`, if any. */
  heir(namespace: string, secret: string, except: string | undefined): Heir | undefined {
    return this.shims
      .flatMap((wanting) => wanting(namespace, secret))
      .filter((h) => h.owner.metadata?.uid !== except)
      .sort((a, b) =>
        (a.owner.metadata?.creationTimestamp ?? '').localeCompare(
          b.owner.metadata?.creationTimestamp ?? '',
        ),
      )[0];
  }
}

export interface ShimOptions {
  manager: Manager;
  events: EventRecorder;
  /** The operator's one scope of namespaced kinds (see servedScope). */
  scope: InformerScope;
  /** The issuer for `kubernetes.io/tls-acme: "true"` objects (cert-manager's default issuer flags). */
  defaultIssuer?: IssuerRef;
  /** The operator's shims, for handing Certificates over between them. */
  registry: ShimRegistry;
}

/** A shim annotation under our prefix or cert-manager's, with the key found. */
export function shimAnnotation(
  obj: KubeObject,
  name: string,
): { key: string; value: string } | undefined {
  for (const prefix of PREFIXES) {
    const key = `${prefix}${name}`;
    const value = obj.metadata?.annotations?.[key];
    if (value !== undefined) return { key, value };
  }
  return undefined;
}

/** The issuer an object asks for, if any. */
function issuerOf(obj: KubeObject, defaultIssuer?: IssuerRef): IssuerRef | undefined {
  const cluster = shimAnnotation(obj, 'cluster-issuer');
  if (cluster) return { name: cluster.value, kind: 'ClusterIssuer' };
  const ns = shimAnnotation(obj, 'issuer');
  if (ns) return { name: ns.value, kind: 'Issuer' };
  if (obj.metadata?.annotations?.['kubernetes.io/tls-acme'] === 'true') return defaultIssuer;
  return undefined;
}

/**
 * What a shim object's annotations ask of each of its Certificates, read alike for every
 * kind: the issuer and the settings (with the problems, naming the annotation). None when it
 * asks for no issuer; `refused` when its issuer annotations contradict each other, as
 * cert-manager refuses such an object whole: nothing is made, and the Certificates it has
 * are left as they are.
 */
export function shimRequest(
  obj: KubeObject,
  kind: string,
  defaultIssuer?: IssuerRef,
):
  | { issuerRef: IssuerRef; settings: Partial<CertificateSpec>; errors: string[] }
  | { refused: ShimWants }
  | undefined {
  const [issuer, cluster] = [shimAnnotation(obj, 'issuer'), shimAnnotation(obj, 'cluster-issuer')];
  if (issuer && cluster) {
    const an = /^[AEIOU]/.test(kind) ? 'an' : 'a';
    const error = `metadata.annotations: both ${issuer.key} and ${cluster.key} may not be set (cert-manager refuses such ${an} ${kind} too): no Certificate is made or changed`;
    return { refused: { certificates: [], errors: [error], refused: true } };
  }
  const issuerRef = issuerOf(obj, defaultIssuer);
  return issuerRef ? { issuerRef, ...shimSettings(obj) } : undefined;
}

/**
 * The Certificate settings the shim annotations give beside the issuer (duration,
 * renew-before, common-name, private-key-algorithm, private-key-size), and the problems,
 * naming the annotation.
 */
function shimSettings(obj: KubeObject): {
  settings: Partial<CertificateSpec>;
  errors: string[];
} {
  const settings: Partial<CertificateSpec> = {};
  const errors: string[] = [];
  for (const [name, field] of [
    ['duration', 'duration'],
    ['renew-before', 'renewBefore'],
  ] as const) {
    const a = shimAnnotation(obj, name);
    if (!a) continue;
    if (parseDuration(a.value) !== undefined) settings[field] = a.value;
    else
      errors.push(
        `metadata.annotations[${a.key}]: "${a.value}" is not a duration such as 2160h or 90m`,
      );
  }
  const cn = shimAnnotation(obj, 'common-name');
  if (cn) settings.commonName = cn.value;
  const algo = shimAnnotation(obj, 'private-key-algorithm');
  const size = shimAnnotation(obj, 'private-key-size');
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
      settings.privateKey = { algorithm, ...(size ? { size: Number(size.value) } : {}) };
    }
  }
  return { settings, errors };
}

/** What an object asks for: its Certificates, problems (Warning BadConfig) and notes. */
export interface ShimWants {
  certificates: Certificate[];
  errors: string[];
  /** Parts left out on purpose, and why (Normal Skipped Events). */
  skipped?: string[];
  /** Refused whole (see shimRequest): its Certificates are left as they are. */
  refused?: true;
}

/** Refused for its content: the schema (422) or an admission webhook's denial. */
function refusedAsInvalid(err: unknown): err is ApiError {
  return (
    err instanceof InvalidError ||
    (err instanceof ForbiddenError && err.message.includes('denied the request'))
  );
}

/** What a shim's writes need: the client, where Events go, the kind of its objects. */
interface ShimWriter {
  client: Client;
  events: EventRecorder;
  kind: string;
}

/**
 * Applies a Certificate `obj` asks for, unless another object owns it; a refusal for its
 * content is told on `obj` (retrying cannot help, and its owner only looks at the object).
 */
async function applyWanted(
  w: ShimWriter,
  obj: KubeObject,
  want: Certificate,
  existing: Certificate | undefined,
): Promise<void> {
  const name = want.metadata?.name ?? '';
  if (existing && getControllerOf(existing)?.uid !== obj.metadata?.uid) {
    const note = `Certificate ${name} exists and is not owned by this ${w.kind}: left alone`;
    w.events.event(obj, 'Warning', 'BadConfig', 'CreateCertificate', note);
    return;
  }
  try {
    await w.client.apply(Certificates, want, { fieldManager: FIELD_MANAGER, force: true });
  } catch (err) {
    if (!refusedAsInvalid(err)) throw err;
    const note = `Certificate ${name} refused: ${err.message}`;
    w.events.event(obj, 'Warning', 'BadConfig', 'CreateCertificate', note);
    return;
  }
  if (!existing)
    w.events.event(
      obj,
      'Normal',
      'CreateCertificate',
      'CreateCertificate',
      `Created Certificate ${name}`,
    );
}

/**
 * Lets go of a Certificate `obj` (gone: undefined) no longer wants: passed to another object
 * asking for it, else deleted.
 */
async function release(
  w: ShimWriter,
  registry: ShimRegistry,
  stale: Certificate,
  obj: KubeObject | undefined,
): Promise<void> {
  const key = { namespace: stale.metadata?.namespace ?? '', name: stale.metadata?.name ?? '' };
  const heir = registry.heir(key.namespace, key.name, obj?.metadata?.uid);
  if (heir) {
    // The controller reference moves; the heir's shim (told by the change) applies its spec.
    const ownerReferences = heir.certificate.metadata?.ownerReferences;
    await w.client.patch(Certificates, key, {
      type: 'merge',
      patch: { metadata: { ownerReferences } },
    });
    const note = `Certificate ${key.name} handed over to ${heir.kind} ${heir.owner.metadata?.name}, which asks for it`;
    if (obj) w.events.event(obj, 'Normal', 'HandOverCertificate', 'HandOverCertificate', note);
    return;
  }
  await w.client.delete(Certificates, key).catch((err: unknown) => {
    if (!isNotFound(err)) throw err;
  });
  const note = `Deleted Certificate ${key.name}`;
  if (obj) w.events.event(obj, 'Normal', 'DeleteCertificate', 'DeleteCertificate', note);
}

/**
 * One shim controller: objects of `resource` get the Certificates `wants` says, owned by
 * them (controller reference) and kept in step; ones they own but no longer want go, or
 * pass to another object asking for them (see ShimRegistry). A Certificate they do not own
 * is never touched.
 */
export function certificateShim<T extends KubeObject>(
  opts: ShimOptions & {
    name: string;
    resource: ResourceType<T>;
    wants: (obj: T) => ShimWants;
  },
) {
  const { manager, events, scope, resource } = opts;
  const owned = manager.cache.informer(Certificates, scope);
  const objects = manager.cache.informer(resource, scope);
  const w: ShimWriter = { client: manager.client, events, kind: resource.kind };
  opts.registry.add((namespace, secret) =>
    objects.store.byIndex('namespace', namespace).flatMap((owner) => {
      if (owner.metadata?.deletionTimestamp) return [];
      const certificate = opts.wants(owner).certificates.find((c) => c.metadata?.name === secret);
      return certificate ? [{ kind: w.kind, owner, certificate }] : [];
    }),
  );

  return manager
    .controller(opts.name)
    .for(resource, scope)
    .owns(Certificates, scope)
    .complete(async (req: Request) => {
      const obj = await manager.cache.get(resource, req, scope).catch(notFoundIsUndefined);
      const ns = req.namespace ?? '';
      const mine = owned.store.byIndex('namespace', ns).filter((c) => {
        const ref = getControllerOf(c);
        return (
          ref?.kind === w.kind && ref.name === req.name && (!obj || ref.uid === obj.metadata?.uid)
        );
      });
      const wants =
        obj && !obj.metadata?.deletionTimestamp
          ? opts.wants(obj)
          : { certificates: [], errors: [], skipped: [] };
      for (const e of wants.errors)
        events.event(obj!, 'Warning', 'BadConfig', 'CreateCertificate', e);
      if (wants.refused) return;
      for (const s of wants.skipped ?? [])
        events.event(obj!, 'Normal', 'Skipped', 'CreateCertificate', s);
      for (const want of wants.certificates)
        await applyWanted(w, obj!, want, owned.store.get(`${ns}/${want.metadata?.name}`));
      const wanted = new Set(wants.certificates.map((c) => c.metadata?.name));
      for (const stale of mine)
        if (!wanted.has(stale.metadata?.name)) await release(w, opts.registry, stale, obj);
    });
}
