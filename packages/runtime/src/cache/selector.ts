/** One term of a LabelSelector (metav1.LabelSelectorRequirement). */
export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  /** For In and NotIn: not empty; for Exists and DoesNotExist: none. */
  values?: string[];
}

/**
 * metav1.LabelSelector: every matchLabels pair and every matchExpressions term must hold.
 * An empty selector matches everything, as in Kubernetes.
 */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** Whether `labels` satisfy `selector`, with the API server's semantics. */
export function labelSelectorMatches(
  selector: LabelSelector,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  const l = labels ?? {};
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (l[key] !== value) return false;
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(l, key);
    const ok =
      operator === 'In'
        ? has && values.includes(l[key]!)
        : operator === 'NotIn'
          ? !has || !values.includes(l[key]!)
          : operator === 'Exists'
            ? has
            : !has;
    if (!ok) return false;
  }
  return true;
}
