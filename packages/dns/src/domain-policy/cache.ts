import {
  type Cache,
  type ControllerBuilder,
  type Informer,
  type KubeObject,
  labelsChanged,
  type Namespace,
  Namespaces,
  objectKey,
  type Request,
} from '@chousei/runtime';
import { DomainPolicies, type DomainPolicy } from './api.js';
import { isUnderSuffix, judgeName, type NameVerdict } from './judge.js';

/**
 * What a DomainPolicy event may change: the names under the suffixes it had or has, or
 * every name when the first policy came or the last one went (the defaults change).
 */
export type PolicyChange = { all: true } | { all: false; suffixes: string[] };

/** Whether a name may be judged otherwise after `change`. */
export function touchedBy(change: PolicyChange, name: string): boolean {
  return change.all || change.suffixes.some((s) => isUnderSuffix(name, s));
}

/** What a controller requeues when policies or a namespace's labels change. */
export interface PolicyDependents<Req = Request> {
  /** Requests whose names `change` may judge otherwise. */
  byPolicy(change: PolicyChange): Req[];
  /** Requests claiming names from this namespace (its labels changed, or it appeared). */
  byNamespace(namespace: string): Req[];
}

/**
 * The cluster's DomainPolicies and namespace labels, as the operators' shared cache holds
 * them: every DomainPolicy, and Namespaces as metadata only (their labels for selectors,
 * a few hundred bytes each).
 */
export class DomainPolicyCache {
  readonly policies: Informer<DomainPolicy>;
  readonly namespaces: Informer<Namespace>;

  constructor(cache: Cache) {
    this.policies = cache.informer(DomainPolicies);
    this.namespaces = cache.informer(Namespaces, NAMESPACE_SCOPE);
  }

  /** Whether any DomainPolicy exists: without one, every name is allowed. */
  get active(): boolean {
    return this.policies.store.size > 0;
  }

  /** May `namespace` claim `name`? */
  judge(namespace: string, name: string): NameVerdict {
    if (!this.active) return { allowed: true };
    const labels = this.namespaces.store.get(namespace)?.metadata?.labels;
    return judgeName(this.policies.store.list(), { name: namespace, labels }, name);
  }

  /**
   * Makes the controller wait for policies and namespaces, and requeue what a change may
   * judge otherwise: a DomainPolicy's old and new suffixes (everything when the defaults
   * change), a namespace that appears or whose labels change while policies exist.
   */
  watchedBy<Req, B extends ControllerBuilder<Req, KubeObject>>(
    builder: B,
    dependents: PolicyDependents<Req>,
  ): B {
    // Suffixes of each policy as last seen: an update or delete also touches the old ones.
    const seen = new Map<string, string[]>();
    const policyChange = (policy: DomainPolicy): PolicyChange => {
      const key = objectKey(policy);
      const before = seen.get(key) ?? [];
      const wasActive = seen.size > 0;
      const present = this.policies.store.get(key) !== undefined;
      const now = present ? policy.spec.domains.map((d) => d.suffix) : [];
      if (present) seen.set(key, now);
      else seen.delete(key);
      if (wasActive !== seen.size > 0) return { all: true };
      return { all: false, suffixes: [...new Set([...before, ...now])] };
    };
    return builder
      .watches(DomainPolicies, (p) => dependents.byPolicy(policyChange(p)))
      .watches(
        Namespaces,
        (ns) => (this.active ? dependents.byNamespace(ns.metadata?.name ?? '') : []),
        { ...NAMESPACE_SCOPE, predicates: [{ update: labelsChanged.update, delete: () => false }] },
      );
  }
}

const NAMESPACE_SCOPE = { metadataOnly: true };
