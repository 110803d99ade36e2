import { normalizeName } from '@chousei/dns';
import type { KubeObject } from '@chousei/runtime';
import type { FieldError } from './endpoint.js';
import { hostnameError, parseTTL } from './validate.js';

/**
 * Annotation prefixes, first found wins: ours, then external-dns's (v0.22 reads only
 * `external-dns.kubernetes.io/`; older releases read the `alpha` one too).
 */
export const ANNOTATION_PREFIXES: readonly string[] = [
  'dns.chousei.dev/',
  'external-dns.kubernetes.io/',
  'external-dns.alpha.kubernetes.io/',
];

/**
 * The prefixes to read: the defaults, or with external-dns's --annotation-prefix that one
 * alone, as external-dns reads it, so that operators split by prefix never read each
 * other's annotations.
 */
export function annotationPrefixes(annotationPrefix: string | undefined): readonly string[] {
  return annotationPrefix ? [annotationPrefix] : ANNOTATION_PREFIXES;
}

/** The field path of an annotation, as FieldErrors name it. */
export function annotationField(key: string): string {
  return `metadata.annotations[${key}]`;
}

export interface FoundAnnotation {
  /** The full key as found, e.g. `external-dns.alpha.kubernetes.io/ttl`. */
  key: string;
  value: string;
  /** `metadata.annotations[<key>]`. */
  field: string;
}

/** The first annotation `name` under the prefixes in their order of precedence. */
export function findAnnotation(
  obj: KubeObject,
  name: string,
  prefixes: readonly string[] = ANNOTATION_PREFIXES,
): FoundAnnotation | undefined {
  const annotations = obj.metadata?.annotations;
  if (!annotations) return undefined;
  for (const prefix of prefixes) {
    const key = `${prefix}${name}`;
    const value = annotations[key];
    if (value !== undefined) return { key, value, field: annotationField(key) };
  }
  return undefined;
}

/** Options of the Ingress and Service sources. */
export interface SourceOptions {
  /** Ignore the hostname annotation, as external-dns's --ignore-hostname-annotation does. */
  ignoreHostnameAnnotation?: boolean;
  /** Ignore Ingresses' spec.tls hosts, as external-dns's --ignore-ingress-tls-spec does. */
  ignoreIngressTlsSpec?: boolean;
  /** Where annotations are read (annotationPrefixes()); default ANNOTATION_PREFIXES. */
  annotationPrefixes?: readonly string[];
}

/** Which Ingress names count: the rules' hosts, the hostname annotation, or both. */
export type HostnameSource = 'all' | 'defined-hosts-only' | 'annotation-only';

export interface DnsAnnotations {
  ttl?: number;
  /** Targets overriding the load balancer status, with the annotation they came from. */
  targets?: { values: string[]; field: string };
  hostnameSource: HostnameSource;
  /** The alias annotation is "true". */
  alias?: true;
}

/**
 * What the API server takes for all annotations of an object together: a longer value
 * cannot come from it, and is not worth splitting into hundreds of thousands of names.
 */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;

/**
 * Names or targets one annotation may list: as many as a DNSEndpoint's endpoints. A longer
 * list is no one's setup, and would cost an Event per bad item.
 */
export const MAX_ANNOTATION_ITEMS = 256;

/**
 * Splits a comma list, tolerating whitespace and empty items (`a, b,`). A value over
 * MAX_ANNOTATIONS_BYTES or MAX_ANNOTATION_ITEMS is reported and read as empty: publishing
 * an arbitrary part of it would be worse.
 */
function commaList(found: FoundAnnotation | undefined, errors: FieldError[]): string[] {
  if (!found) return [];
  const refuse = (message: string) => {
    errors.push({ field: found.field, message: `${message}: ignored` });
    return [];
  };
  if (found.value.length > MAX_ANNOTATIONS_BYTES) {
    return refuse(
      `is ${found.value.length} characters, over the ${MAX_ANNOTATIONS_BYTES / 1024} KiB the API server allows for all annotations`,
    );
  }
  const items = found.value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length > MAX_ANNOTATION_ITEMS) {
    return refuse(`lists ${items.length} items, over the ${MAX_ANNOTATION_ITEMS} allowed`);
  }
  return items;
}

/**
 * The valid names of the hostname annotation, normalised and without duplicates; the
 * invalid ones are reported. Separate from readAnnotations because sources that ignore
 * the annotation must not report its errors either.
 */
export function annotationHostnames(
  obj: KubeObject,
  prefixes?: readonly string[],
): { names: string[]; errors: FieldError[] } {
  const found = findAnnotation(obj, 'hostname', prefixes);
  const names = new Set<string>();
  const errors: FieldError[] = [];
  for (const raw of commaList(found, errors)) {
    const name = normalizeName(raw);
    const err = hostnameError(name);
    if (err) errors.push({ field: found!.field, message: `hostname "${raw}" ${err}` });
    else names.add(name);
  }
  return { names: [...names], errors };
}

/**
 * The target annotation's values and field; none when unset or empty (an empty target
 * annotation overrides nothing rather than withdrawing every record). A value too long
 * is reported into `errors`.
 */
export function targetAnnotation(
  obj: KubeObject,
  errors: FieldError[],
  prefixes?: readonly string[],
): DnsAnnotations['targets'] | undefined {
  const target = findAnnotation(obj, 'target', prefixes);
  const list = commaList(target, errors);
  return list.length ? { values: list, field: target!.field } : undefined;
}

/**
 * Reads the annotations that shape records (all but hostname). Bad values are reported
 * and ignored so the rest of the object still publishes: an invalid TTL falls back to
 * the default TTL.
 */
export function readAnnotations(
  obj: KubeObject,
  prefixes?: readonly string[],
): { values: DnsAnnotations; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const values: DnsAnnotations = { hostnameSource: 'all' };
  const find = (name: string) => findAnnotation(obj, name, prefixes);

  const ttl = find('ttl');
  if (ttl) {
    const parsed = parseTTL(ttl.value);
    if ('ttl' in parsed) values.ttl = parsed.ttl;
    else errors.push({ field: ttl.field, message: `TTL ${parsed.error}` });
  }

  const targets = targetAnnotation(obj, errors, prefixes);
  if (targets) values.targets = targets;

  const source = find('ingress-hostname-source');
  if (source) {
    const mode = source.value.trim().toLowerCase();
    if (mode === 'defined-hosts-only' || mode === 'annotation-only') values.hostnameSource = mode;
    else if (mode !== '') {
      errors.push({
        field: source.field,
        message: `must be "defined-hosts-only" or "annotation-only", got "${source.value}"`,
      });
    }
  }

  // "true" asks for an alias; anything else leaves it to the provider, as in external-dns
  // (Route53: an alias for AWS targets unless --aws-prefer-cname).
  const alias = find('alias');
  if (alias) {
    const flag = alias.value.trim().toLowerCase();
    if (flag === 'true') values.alias = true;
    else if (flag !== 'false' && flag !== '') {
      errors.push({
        field: alias.field,
        message: `must be "true" or "false", got "${alias.value}"`,
      });
    }
  }

  return { values, errors };
}
