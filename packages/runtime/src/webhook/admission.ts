import type { StatusCause } from '../client/errors.js';
import type { KubeObject } from '../client/types.js';
import { diff } from '../util/json-patch.js';

/** The only AdmissionReview version served; v1beta1 left Kubernetes in 1.22. */
export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

/** Who made the request, as authenticated by the API server. */
export interface UserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/**
 * What the API server asks about. `T` is what the handler expects in `object` and
 * `oldObject`; it is not checked, so the webhook configuration's rules must match it.
 */
export interface AdmissionRequest<T = KubeObject> {
  /** Echoed in the response so the API server can pair the two. */
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource?: string;
  /** The kind the client sent, when a matchPolicy Equivalent rule converted it. */
  requestKind?: GroupVersionKind;
  requestResource?: GroupVersionResource;
  requestSubResource?: string;
  /** Empty on a CREATE with generateName: the server picks it after admission. */
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo: UserInfo;
  /** The new object: null on DELETE. */
  object?: T | null;
  /** The stored object: set on UPDATE and DELETE. */
  oldObject?: T | null;
  /** True when nothing will be persisted, so handlers must skip side effects. */
  dryRun?: boolean;
  /** CreateOptions, UpdateOptions or DeleteOptions of the operation. */
  options?: Record<string, unknown> | null;
}

/** The metav1.Status a denial carries; the API server turns it into the client's error. */
export interface AdmissionStatus {
  status?: 'Success' | 'Failure';
  code?: number;
  message?: string;
  reason?: string;
  details?: { causes?: StatusCause[] };
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: AdmissionStatus;
  patchType?: 'JSONPatch';
  /** Base64 of a JSON array of RFC 6902 operations. */
  patch?: string;
  /** Shown to the client (kubectl prints them); the request still proceeds. */
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

export interface AdmissionReview {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  request?: AdmissionRequest<unknown>;
  response?: AdmissionResponse;
}

/** A response without the uid, which the server copies from the request. */
export type AdmissionResult = Omit<AdmissionResponse, 'uid'>;

/** What the server calls for each review on a registered path. A throw answers 500. */
export type AdmissionHandler = (req: AdmissionRequest<unknown>) => Promise<AdmissionResult>;

export interface Allowed {
  allowed: true;
  warnings?: string[];
}

export interface Denied {
  allowed: false;
  status: AdmissionStatus;
  warnings?: string[];
}

export type ValidationResult = Allowed | Denied;

/** An invalid field, named by its path in the object (e.g. `data.color`). */
export interface FieldCause {
  field: string;
  message: string;
  /** A metav1 CauseType; default FieldValueInvalid. */
  reason?: string;
}

export function allow(warnings?: string[]): Allowed {
  return warnings?.length ? { allowed: true, warnings } : { allowed: true };
}

/**
 * A policy denial: 403 Forbidden, as controller-runtime's `Denied`. The fields go both
 * into the message, which is all `kubectl` shows, and into `details.causes` for clients
 * that read them.
 */
export function deny(message: string, causes: FieldCause[] = []): Denied {
  const status: AdmissionStatus = { code: 403, reason: 'Forbidden', message };
  if (causes.length) {
    status.message = `${message}: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`;
    status.details = {
      causes: causes.map((c) => ({
        field: c.field,
        message: c.message,
        reason: c.reason ?? 'FieldValueInvalid',
      })),
    };
  }
  return { allowed: false, status };
}

/** A handler that admits or denies without changing the object. */
export function validatingHandler<T = KubeObject>(
  fn: (req: AdmissionRequest<T>) => ValidationResult | Promise<ValidationResult>,
): AdmissionHandler {
  return async (req) => {
    const result = await fn(req as AdmissionRequest<T>);
    return result.allowed ? allow(result.warnings) : result;
  };
}

/**
 * A handler that changes the incoming object. `fn` gets a deep copy (also as
 * `req.object`) to edit in place or to replace by returning another object; the response
 * carries the JSON patch from the original to the result, none when nothing changed.
 * Requests without an object (DELETE) are admitted untouched.
 */
export function mutatingHandler<T extends object = KubeObject>(
  // void, not undefined, so a callback (async too) that edits in place needs no `return`.
  // biome-ignore lint/suspicious/noConfusingVoidType: that is the meaning here
  fn: (obj: T, req: AdmissionRequest<T>) => T | void | Promise<T | void>,
): AdmissionHandler {
  return async (req) => {
    const original = req.object;
    if (original === undefined || original === null) return { allowed: true };
    // The original stays out of the handler's reach: it is what the patch is relative to.
    const copy = structuredClone(original) as T;
    const returned = await fn(copy, { ...(req as AdmissionRequest<T>), object: copy });
    // Serialize as the API server will read it: drops undefined members, Dates to strings.
    const mutated: unknown = JSON.parse(JSON.stringify(returned ?? copy));
    const ops = diff(original, mutated);
    if (!ops.length) return { allowed: true };
    return {
      allowed: true,
      patchType: 'JSONPatch',
      patch: Buffer.from(JSON.stringify(ops)).toString('base64'),
    };
  };
}
