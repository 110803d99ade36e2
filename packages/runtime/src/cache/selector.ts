import type { LabelSelector } from '../client/types.js';

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

/** A part of a selector the API server would refuse, by its path (e.g. `spec.selector.matchLabels`). */
export interface SelectorProblem {
  field: string;
  message: string;
}

const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAME_RULE =
  "at most 63 characters: letters, digits, '-', '_' and '.', starting and ending with a letter or digit";

function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = key.slice(slash + 1);
  if (prefix !== undefined && !(prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix)))
    return `label key ${JSON.stringify(key)}: the prefix must be a DNS subdomain (e.g. example.com)`;
  if (!(name.length <= 63 && LABEL_NAME.test(name)))
    return `label key ${JSON.stringify(key)}: the name must be ${NAME_RULE}`;
  return undefined;
}

function labelValueProblem(value: string): string | undefined {
  if (value === '' || (value.length <= 63 && LABEL_NAME.test(value))) return undefined;
  return `label value ${JSON.stringify(value)}: must be empty or ${NAME_RULE}`;
}

/**
 * What the API server's own LabelSelector validation finds wrong with `selector` at `field`:
 * keys that are not qualified names, values no label can have (a selector with them matches
 * nothing, silently). A custom resource's schema cannot check map keys, so a validating
 * webhook calls this.
 */
export function labelSelectorProblems(selector: LabelSelector, field: string): SelectorProblem[] {
  const problems: SelectorProblem[] = [];
  const check = (at: string, message: string | undefined) => {
    if (message) problems.push({ field: at, message });
  };
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    check(`${field}.matchLabels`, labelKeyProblem(key));
    check(`${field}.matchLabels`, labelValueProblem(value));
  }
  (selector.matchExpressions ?? []).forEach((term, i) => {
    const at = `${field}.matchExpressions[${i}]`;
    check(`${at}.key`, labelKeyProblem(term.key));
    (term.values ?? []).forEach((v, j) => {
      check(`${at}.values[${j}]`, labelValueProblem(v));
    });
  });
  return problems;
}
