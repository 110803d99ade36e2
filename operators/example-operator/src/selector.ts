import type { LabelSelector } from './api/secretmirror.js';

/**
 * Whether `labels` satisfy a metav1.LabelSelector, as the API server decides: every
 * matchLabels pair and every matchExpressions term must hold; `{}` selects everything.
 */
export function selects(selector: LabelSelector, labels: Record<string, string> = {}): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  return (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    // Own keys only: a label named e.g. `constructor` must not find Object's.
    const value = Object.hasOwn(labels, key) ? labels[key] : undefined;
    if (operator === 'Exists') return value !== undefined;
    if (operator === 'DoesNotExist') return value === undefined;
    const listed = value !== undefined && values.includes(value);
    return operator === 'In' ? listed : !listed;
  });
}
