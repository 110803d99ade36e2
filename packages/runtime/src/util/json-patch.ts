/**
 * JSON comparison and patch generation: RFC 6902 JSON Patch (what a mutating webhook tells
 * the API server) and RFC 7386 merge patch (what a controller writes as status).
 */

/** One RFC 6902 operation; only the kinds `diff` emits. */
export type JsonPatchOp =
  | { op: 'add'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'replace'; path: string; value: unknown };

/** Escapes one JSON Pointer (RFC 6901) reference token: `~` first, so `/` -> `~1` stays. */
export function escapePointerToken(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Members that JSON serialization keeps: an `undefined` member is an absent one. */
function definedKeys(obj: JsonObject): string[] {
  return Object.keys(obj).filter((k) => obj[k] !== undefined);
}

/** Structural equality of JSON values, with `undefined` members treated as absent. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = definedKeys(a);
    if (keys.length !== definedKeys(b).length) return false;
    return keys.every((k) => b[k] !== undefined && jsonEqual(a[k], b[k]));
  }
  return false;
}

/** `undefined` has no JSON form; in an array slot JSON.stringify writes null, so do we. */
function jsonValue(value: unknown): unknown {
  return value === undefined ? null : value;
}

function diffInto(from: unknown, to: unknown, path: string, ops: JsonPatchOp[]): void {
  if (jsonEqual(from, to)) return;
  if (isObject(from) && isObject(to)) {
    for (const key of definedKeys(from)) {
      const child = `${path}/${escapePointerToken(key)}`;
      if (to[key] === undefined) ops.push({ op: 'remove', path: child });
      else diffInto(from[key], to[key], child, ops);
    }
    for (const key of definedKeys(to)) {
      if (from[key] === undefined) {
        ops.push({ op: 'add', path: `${path}/${escapePointerToken(key)}`, value: to[key] });
      }
    }
    return;
  }
  // Same-length arrays change in place (the common "edit a container" case); anything
  // else would need index bookkeeping for inserts and removals, so the array is replaced.
  if (Array.isArray(from) && Array.isArray(to) && from.length === to.length) {
    to.forEach((item, i) => {
      diffInto(jsonValue(from[i]), jsonValue(item), `${path}/${i}`, ops);
    });
    return;
  }
  ops.push({ op: 'replace', path, value: jsonValue(to) });
}

/**
 * The operations that turn JSON value `from` into `to`: objects recursively (members of
 * `from` removed or diffed, then new members added), same-length arrays element by
 * element, anything else replaced whole. Equal values give an empty patch.
 */
export function diff(from: unknown, to: unknown): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  diffInto(from, to, '', ops);
  return ops;
}

/**
 * The RFC 7386 merge patch that turns `from` into `to`, as controller-runtime's
 * `MergeFrom`: members of `to` that differ, recursively for objects; members only in `from`
 * as null (removed); arrays and scalars whole. Undefined when they are equal.
 */
export function mergePatch(from: unknown, to: unknown): unknown {
  if (jsonEqual(from, to)) return undefined;
  if (!isObject(from) || !isObject(to)) return to === undefined ? null : to;
  const patch: JsonObject = {};
  for (const key of definedKeys(from)) if (to[key] === undefined) patch[key] = null;
  for (const key of definedKeys(to)) {
    const member = mergePatch(from[key], to[key]);
    if (member !== undefined) patch[key] = member;
  }
  return patch;
}
