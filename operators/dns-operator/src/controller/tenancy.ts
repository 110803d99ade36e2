import type { NameVerdict } from '@chousei/dns';
import { byAge, type Claimant } from './claims.js';

/**
 * Claims on one name from several namespaces: `refuse` (the default) publishes one
 * namespace's claims only; `merge` merges them all, as external-dns does (unsafe when
 * namespaces belong to different tenants: any of them can add itself to any name).
 */
export type CrossNamespaceClaims = 'refuse' | 'merge';

export interface TenancyRules {
  /** DomainPolicies' verdict for a namespace and a name; unset: none are read. */
  judge?: (namespace: string, name: string) => NameVerdict;
  crossNamespaceClaims: CrossNamespaceClaims;
}

/** A claim left out of the name entirely, and why (the Event and status reason). */
export interface RefusedClaim {
  claimant: Claimant;
  reason: 'DomainNotAllowed' | 'NameTaken';
  message: string;
}

export interface AdmittedClaims {
  /** The claims to merge and publish. */
  admitted: Claimant[];
  refused: RefusedClaim[];
}

const namespaceOf = (c: Claimant) => c.obj.metadata?.namespace ?? '';

/** The namespace of an ownership record's resource (`kind/namespace/name`). */
export function resourceNamespace(resource: string): string | undefined {
  const parts = resource.split('/');
  return parts.length === 3 ? parts[1] : undefined;
}

/**
 * Which claims on `name` may be published. First the DomainPolicies, claim by claim. Then,
 * unless claims merge across namespaces, one namespace holds the name: the one whose
 * claims are published now (`publishedBy`: namespaces our ownership records of the name
 * point to) while it still claims it, so a restart or a newer claim never moves a name;
 * else the namespace of the oldest claim. Claims from other namespaces are refused whole.
 */
export function admitClaims(
  name: string,
  claimants: Claimant[],
  rules: TenancyRules,
  publishedBy: ReadonlySet<string>,
): AdmittedClaims {
  const refused: RefusedClaim[] = [];
  let allowed = claimants;
  const judge = rules.judge;
  if (judge) {
    const verdicts = new Map<string, NameVerdict>();
    allowed = claimants.filter((claimant) => {
      const ns = namespaceOf(claimant);
      const verdict = verdicts.get(ns) ?? judge(ns, name);
      verdicts.set(ns, verdict);
      if (verdict.allowed) return true;
      refused.push({ claimant, reason: 'DomainNotAllowed', message: verdict.message });
      return false;
    });
  }
  if (rules.crossNamespaceClaims === 'merge') return { admitted: allowed, refused };

  const oldest = new Map<string, Claimant>();
  for (const c of [...allowed].sort(byAge)) {
    if (!oldest.has(namespaceOf(c))) oldest.set(namespaceOf(c), c);
  }
  const published = [...oldest.keys()].filter((ns) => publishedBy.has(ns));
  const holder = (published.length ? published : [...oldest.keys()]).sort((a, b) =>
    byAge(oldest.get(a)!, oldest.get(b)!),
  )[0];
  const admitted: Claimant[] = [];
  for (const c of allowed) {
    if (namespaceOf(c) === holder) {
      admitted.push(c);
      continue;
    }
    refused.push({
      claimant: c,
      reason: 'NameTaken',
      message: `${name} is held by namespace ${holder} (${oldest.get(holder!)!.resource}): a name claimed from one namespace is not published for another`,
    });
  }
  return { admitted, refused };
}
