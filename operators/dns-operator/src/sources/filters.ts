import { inZone, normalizeName } from '@chousei/dns';
import { type Ingress, type KubeObject, matchesLabels } from '@chousei/runtime';

/**
 * The label of the cert-operator's temporary HTTP-01 routes (Ingresses, HTTPRoutes): each
 * routes one path of a name that another object of another namespace claims. Read as a claim,
 * it would race that object for the name (and win a tie of ages by its namespace's name),
 * holding back the very record the challenge needs.
 */
export const CHALLENGE_ROUTE_LABEL = 'cert.chousei.dev/http01-solver';

/** Whether an object is one of the cert-operator's temporary challenge routes: it claims nothing. */
export function isChallengeRoute(obj: KubeObject): boolean {
  return obj.metadata?.labels?.[CHALLENGE_ROUTE_LABEL] !== undefined;
}

/** The annotation Ingresses named their class with before spec.ingressClassName. */
export const LEGACY_INGRESS_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';

/**
 * Whether an Ingress belongs to one of `classes` (all of them when the list is empty).
 * spec.ingressClassName wins over the legacy annotation, as ingress controllers read it.
 */
export function ingressClassMatches(ingress: Ingress, classes: readonly string[]): boolean {
  if (classes.length === 0) return true;
  const cls =
    ingress.spec?.ingressClassName ??
    ingress.metadata?.annotations?.[LEGACY_INGRESS_CLASS_ANNOTATION];
  return cls !== undefined && classes.includes(cls);
}

/**
 * A predicate over an object's annotations with label selector syntax (`a=b,c!=d,e,!f`).
 * It reuses the runtime's label matcher by presenting the annotations as labels.
 */
export function annotationFilter(selector: string): (obj: KubeObject) => boolean {
  const matches = matchesLabels(selector);
  return (obj) => matches({ metadata: { labels: obj.metadata?.annotations ?? {} } });
}

export interface DomainFilterOptions {
  include?: readonly string[];
  exclude?: readonly string[];
}

/**
 * Whether a name falls under the domains to manage: equal to a domain or below it, on
 * label boundaries (`example.com` covers `a.example.com`, not `badexample.com`). No
 * includes means every domain; an exclude wins over an include.
 */
export function domainFilter(opts: DomainFilterOptions = {}): (name: string) => boolean {
  const clean = (list: readonly string[] | undefined) =>
    (list ?? []).map(normalizeName).filter(Boolean);
  const include = clean(opts.include);
  const exclude = clean(opts.exclude);
  return (raw) => {
    const name = normalizeName(raw);
    if (exclude.some((d) => inZone(name, d))) return false;
    return include.length === 0 || include.some((d) => inZone(name, d));
  };
}
