import { type ObjectKey, objectKey, parseObjectKey } from '../client/types.js';

/**
 * What a controller's requests are, as its work queue holds them: a request is queued as a
 * string key (equal requests, equal keys: that is the deduplication) and handed to the
 * reconciler parsed back. An object controller's requests are ObjectKeys; a controller of
 * something else (a DNS name fed by Ingresses and Services alike) has its own kind, so it is
 * not an object controller in disguise.
 */
export interface RequestKind<Req> {
  /** The queue key of `request`. */
  key(request: Req): string;
  /** The request `key` was made from. */
  parse(key: string): Req;
  /** What every log line of its reconcile carries, e.g. `{ namespace, name }`. */
  logFields(request: Req): Record<string, string>;
}

/** Requests that name an object: `namespace/name`, or `name` when cluster-scoped. */
export const objectRequests: RequestKind<ObjectKey> = {
  key: objectKey,
  parse: parseObjectKey,
  logFields: (req): Record<string, string> =>
    req.namespace ? { namespace: req.namespace, name: req.name } : { name: req.name },
};

/** Requests that are one string each, logged as `field` (e.g. `namedRequests('dnsName')`). */
export function namedRequests(field: string): RequestKind<string> {
  return { key: (name) => name, parse: (key) => key, logFields: (name) => ({ [field]: name }) };
}
