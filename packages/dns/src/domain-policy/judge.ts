import { labelSelectorMatches } from '@chousei/runtime';
import type { DomainPolicy, DomainRule } from './api.js';

// The rules both operators apply, without zones: a name is judged by its labels only, so
// the dns-operator (which knows its zones) and the cert-operator (which does not) agree.

/** A name as policies compare it: lower case, without the trailing dot. */
export function canonicalName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** Whether `name` is `suffix` or below it, by whole labels: `evil-example.com` is not under `example.com`. */
export function isUnderSuffix(name: string, suffix: string): boolean {
  const n = canonicalName(name);
  return n === suffix || n.endsWith(`.${suffix}`);
}

/** A wildcard name: one of its labels is `*` (only a leading one is valid DNS). */
export function isWildcard(name: string): boolean {
  return name.split('.').includes('*');
}

/** The namespace a claim comes from, with its labels when known. */
export interface ClaimingNamespace {
  name: string;
  labels?: Readonly<Record<string, string>> | undefined;
}

/** Whether the policy selects the namespace: listed by name, or matched by its selector. */
export function selectsNamespace(policy: DomainPolicy, ns: ClaimingNamespace): boolean {
  const { namespaces, namespaceSelector } = policy.spec;
  if (namespaces?.includes(ns.name)) return true;
  return namespaceSelector !== undefined && labelSelectorMatches(namespaceSelector, ns.labels);
}

/**
 * Whether a namespace may claim a name. Allowed: `rule` names the rule that allows it
 * (none without policies). Refused: `rule` names the rule that refuses it, and `message`
 * says why, naming the name.
 */
export type NameVerdict =
  | { allowed: true; rule?: string }
  | { allowed: false; rule: string; message: string };

const ruleName = (policy: DomainPolicy, i: number, d: DomainRule) =>
  `DomainPolicy ${policy.metadata?.name ?? ''} domains[${i}] (${d.suffix})`;

/** At most `max` items, then how many more: messages stay short however many rules exist. */
function listed(items: string[], max = 5): string {
  const shown = items.slice(0, max).join('; ');
  return items.length > max ? `${shown}; and ${items.length - max} more` : shown;
}

/**
 * Judges a name claimed from a namespace. No policies: allowed (wildcards and apexes
 * included). Otherwise allowed only under a suffix of a policy selecting the namespace; the
 * suffix itself only with `apex`, a wildcard name only with `wildcards`. A refusal names the
 * most specific rule that came close, or else the policies selecting the namespace.
 */
export function judgeName(
  policies: readonly DomainPolicy[],
  ns: ClaimingNamespace,
  name: string,
): NameVerdict {
  if (!policies.length) return { allowed: true };
  const n = canonicalName(name);
  const selecting = policies
    .filter((p) => selectsNamespace(p, ns))
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  if (!selecting.length) {
    const rule = `no DomainPolicy selects namespace ${ns.name}`;
    return { allowed: false, rule, message: `${n}: ${rule}` };
  }
  let closest: { rule: string; suffix: string; why: string } | undefined;
  for (const policy of selecting) {
    for (const [i, d] of policy.spec.domains.entries()) {
      if (!isUnderSuffix(n, d.suffix)) continue;
      const why =
        n === d.suffix && !d.apex
          ? 'does not allow the suffix itself (apex: false)'
          : isWildcard(n) && !d.wildcards
            ? 'does not allow wildcard names (wildcards: false)'
            : undefined;
      if (!why) return { allowed: true, rule: ruleName(policy, i, d) };
      if (!closest || d.suffix.length > closest.suffix.length)
        closest = { rule: ruleName(policy, i, d), suffix: d.suffix, why };
    }
  }
  if (closest)
    return { allowed: false, rule: closest.rule, message: `${n}: ${closest.rule} ${closest.why}` };
  const rule = `DomainPolicies selecting namespace ${ns.name}: ${listed(
    selecting.map(
      (p) => `${p.metadata?.name ?? ''} (${p.spec.domains.map((d) => d.suffix).join(', ')})`,
    ),
  )}`;
  return { allowed: false, rule, message: `${n} is under none of the suffixes of the ${rule}` };
}
