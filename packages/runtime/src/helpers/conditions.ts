import type { Condition, ConditionStatus } from '../client/types.js';

/** What a caller sets; lastTransitionTime is managed by setCondition. */
export interface ConditionUpdate {
  type: string;
  status: ConditionStatus;
  reason: string;
  message?: string;
  observedGeneration?: number;
}

export interface ConditionsResult {
  /** A new array; the input is never modified. */
  conditions: Condition[];
  /** False when the result equals the input: no status write is needed. */
  changed: boolean;
}

/** A condition the API server would reject; `field` names the offending field. */
export class InvalidConditionError extends Error {
  override name = 'InvalidConditionError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

// The validation of metav1.Condition, checked here so a bad condition fails in the
// reconcile that built it, with the field named, rather than as a 422 on the status write.
const TYPE_RE =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;
const REASON_RE = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;
const STATUSES: readonly string[] = ['True', 'False', 'Unknown'];

function validate(c: ConditionUpdate): void {
  const at = `condition ${JSON.stringify(c.type)}`;
  if (!TYPE_RE.test(c.type) || c.type.length > 316) {
    throw new InvalidConditionError(
      'type',
      `${at}: type must be a qualified name such as "Ready" or "example.com/Ready", at most 316 characters`,
    );
  }
  if (!STATUSES.includes(c.status)) {
    throw new InvalidConditionError(
      'status',
      `${at}: status ${JSON.stringify(c.status)} must be one of True, False, Unknown`,
    );
  }
  if (!REASON_RE.test(c.reason) || c.reason.length > 1024) {
    throw new InvalidConditionError(
      'reason',
      `${at}: reason ${JSON.stringify(c.reason)} must be non-empty CamelCase (letters, digits, _ , :; starting with a letter), at most 1024 characters`,
    );
  }
  if ((c.message?.length ?? 0) > 32768) {
    throw new InvalidConditionError('message', `${at}: message is longer than 32768 characters`);
  }
  const gen = c.observedGeneration;
  if (gen !== undefined && !(Number.isInteger(gen) && gen >= 0)) {
    throw new InvalidConditionError(
      'observedGeneration',
      `${at}: observedGeneration ${gen} must be a non-negative integer`,
    );
  }
}

/** RFC 3339 at whole seconds, the precision metav1.Time is stored with. */
function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Sets one condition by type, returning a new array (cached objects are frozen, and the
 * input is left intact for comparison). lastTransitionTime moves to `now` only when the
 * status changes, so it records the transition, not the last reconcile. `changed` tells
 * the caller whether a status write is needed at all. Throws InvalidConditionError for
 * values the API would reject.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: ConditionUpdate,
  now: Date = new Date(),
): ConditionsResult {
  validate(next);
  const list = conditions ?? [];
  const index = list.findIndex((c) => c.type === next.type);
  const prev = list[index];
  const condition: Condition = {
    type: next.type,
    status: next.status,
    reason: next.reason,
    message: next.message ?? '',
    ...(next.observedGeneration !== undefined && { observedGeneration: next.observedGeneration }),
    lastTransitionTime:
      prev && prev.status === next.status ? prev.lastTransitionTime : rfc3339(now),
  };
  if (!prev) return { conditions: [...list, condition], changed: true };
  const changed =
    prev.status !== condition.status ||
    prev.reason !== condition.reason ||
    prev.message !== condition.message ||
    prev.observedGeneration !== condition.observedGeneration;
  if (!changed) return { conditions: [...list], changed: false };
  // Same position: reordering would be a spurious diff in the status.
  return { conditions: list.map((c, i) => (i === index ? condition : c)), changed: true };
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isConditionTrue(
  conditions: readonly Condition[] | undefined,
  type: string,
): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

/** Removes the condition of `type`, returning a new array. */
export function removeCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): ConditionsResult {
  const list = conditions ?? [];
  const kept = list.filter((c) => c.type !== type);
  return { conditions: kept, changed: kept.length !== list.length };
}
