import { describe, expect, it } from 'vitest';
import { diff, escapePointerToken, type JsonPatchOp, mergePatch } from '../src/util/json-patch.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A small RFC 6902 applier (add/remove/replace), enough to check `diff` round-trips. */
function applyPatch(doc: unknown, ops: JsonPatchOp[]): unknown {
  let root = structuredClone(doc);
  for (const op of ops) {
    if (op.path === '') {
      if (op.op === 'remove') throw new Error('cannot remove the root');
      root = structuredClone(op.value);
      continue;
    }
    const tokens = op.path
      .slice(1)
      .split('/')
      .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = tokens.pop()!;
    let parent: unknown = root;
    for (const t of tokens) {
      parent = Array.isArray(parent) ? parent[Number(t)] : (parent as Record<string, unknown>)[t];
      if (typeof parent !== 'object' || parent === null) throw new Error(`no parent: ${op.path}`);
    }
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (op.op === 'add') parent.splice(i, 0, structuredClone(op.value));
      else if (op.op === 'remove') parent.splice(i, 1);
      else parent[i] = structuredClone(op.value);
    } else {
      const obj = parent as Record<string, unknown>;
      if (op.op !== 'add' && !(last in obj)) throw new Error(`${op.op} of missing ${op.path}`);
      if (op.op === 'add' && last in obj) throw new Error(`add over existing ${op.path}`);
      if (op.op === 'remove') delete obj[last];
      else obj[last] = structuredClone(op.value);
    }
  }
  return root;
}

/** mulberry32: a seeded generator, so a failing case can be reproduced. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = ['a', 'b', 'c', 'metadata', 'x/y', 'til~de', '~1', '', 'labels'];

function randomJson(r: () => number, depth: number): Json {
  const pick = r();
  if (depth <= 0 || pick < 0.35) {
    const scalars: Json[] = [null, true, false, 0, 42, -1.5, '', 'v', 'x/y~z'];
    return scalars[Math.floor(r() * scalars.length)]!;
  }
  if (pick < 0.6) {
    return Array.from({ length: Math.floor(r() * 4) }, () => randomJson(r, depth - 1));
  }
  const obj: Record<string, Json> = {};
  for (const k of KEYS) if (r() < 0.4) obj[k] = randomJson(r, depth - 1);
  return obj;
}

/** A copy of `value` with random edits: members added, removed, changed; items too. */
function mutate(r: () => number, value: Json, depth: number): Json {
  if (r() < 0.1) return randomJson(r, depth);
  if (Array.isArray(value)) {
    const out = value.map((v) => (r() < 0.3 ? mutate(r, v, depth - 1) : v));
    if (r() < 0.2) out.push(randomJson(r, depth - 1));
    if (r() < 0.2) out.splice(Math.floor(r() * out.length), 1);
    return out;
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value)) {
      const roll = r();
      if (roll < 0.15) continue;
      out[k] = roll < 0.45 ? mutate(r, v, depth - 1) : v;
    }
    for (const k of KEYS) if (!(k in out) && r() < 0.15) out[k] = randomJson(r, depth - 1);
    return out;
  }
  return r() < 0.5 ? randomJson(r, depth) : value;
}

describe('escapePointerToken', () => {
  it('escapes ~ before /', () => {
    expect(escapePointerToken('a/b~c')).toBe('a~1b~0c');
    expect(escapePointerToken('~1')).toBe('~01');
  });
});

describe('diff', () => {
  it('is empty for equal values, however built', () => {
    expect(diff({ a: [1, { b: 'c' }] }, { a: [1, { b: 'c' }] })).toEqual([]);
    expect(diff({ a: 1, b: undefined }, { a: 1 })).toEqual([]);
    expect(diff(null, null)).toEqual([]);
  });

  it('adds, removes and replaces object members by escaped path', () => {
    const from = { metadata: { labels: { 'app.kubernetes.io/name': 'x', old: 'y' } }, n: 1 };
    const to = { metadata: { labels: { 'app.kubernetes.io/name': 'z', 'a~b': 'w' } }, n: 1 };
    expect(diff(from, to)).toEqual([
      { op: 'replace', path: '/metadata/labels/app.kubernetes.io~1name', value: 'z' },
      { op: 'remove', path: '/metadata/labels/old' },
      { op: 'add', path: '/metadata/labels/a~0b', value: 'w' },
    ]);
  });

  it('adds a whole missing subtree in one operation', () => {
    expect(diff({ metadata: {} }, { metadata: { labels: { a: 'b' } } })).toEqual([
      { op: 'add', path: '/metadata/labels', value: { a: 'b' } },
    ]);
  });

  it('treats an undefined member as absent', () => {
    expect(diff({ a: 1, b: 2 }, { a: 1, b: undefined })).toEqual([{ op: 'remove', path: '/b' }]);
    expect(diff({ a: 1, b: undefined }, { a: 1, b: 2 })).toEqual([
      { op: 'add', path: '/b', value: 2 },
    ]);
  });

  it('edits same-length arrays in place and replaces resized ones', () => {
    const from = { containers: [{ name: 'a', image: 'i:1' }, { name: 'b' }] };
    expect(diff(from, { containers: [{ name: 'a', image: 'i:2' }, { name: 'b' }] })).toEqual([
      { op: 'replace', path: '/containers/0/image', value: 'i:2' },
    ]);
    expect(diff(from, { containers: [{ name: 'a' }] })).toEqual([
      { op: 'replace', path: '/containers', value: [{ name: 'a' }] },
    ]);
  });

  it('replaces values whose type changes, the root included', () => {
    expect(diff({ a: [1] }, { a: { 0: 1 } })).toEqual([
      { op: 'replace', path: '/a', value: { 0: 1 } },
    ]);
    expect(diff({ a: 1 }, [1])).toEqual([{ op: 'replace', path: '', value: [1] }]);
    expect(diff('x', null)).toEqual([{ op: 'replace', path: '', value: null }]);
  });

  it('round-trips random documents through applyPatch', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const r = rng(seed);
      const from = randomJson(r, 4);
      const to = mutate(r, from, 4);
      const ops = diff(from, to);
      // Through JSON, as the API server receives it.
      const sent = JSON.parse(JSON.stringify(ops)) as JsonPatchOp[];
      expect(applyPatch(from, sent), `seed ${seed}`).toEqual(to);
      if (JSON.stringify(from) === JSON.stringify(to)) expect(ops, `seed ${seed}`).toEqual([]);
    }
  });
});

describe('mergePatch', () => {
  it('is undefined for equal values, and otherwise the RFC 7386 patch from one to the other', () => {
    expect(mergePatch({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })).toBeUndefined();
    expect(
      mergePatch({ a: 1, b: { c: 2, d: 3 }, f: [1] }, { b: { c: 2 }, e: [1], f: [1, 2] }),
    ).toEqual({
      a: null,
      b: { d: null },
      e: [1],
      f: [1, 2],
    });
    expect(mergePatch(undefined, { seen: 1 })).toEqual({ seen: 1 });
  });
});
