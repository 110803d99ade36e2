// The rule that decides which namespaces' claims on a name are published, on its own.
import { describe, expect, it } from 'vitest';
import type { Claimant } from '../src/controller/claims.js';
import { admitClaims, resourceNamespace, type TenancyRules } from '../src/controller/tenancy.js';

const NAME = 'web.example.com';
const claim = (namespace: string, name: string, created: string): Claimant => ({
  obj: { metadata: { namespace, name, creationTimestamp: created } },
  resource: `ingress/${namespace}/${name}`,
  result: {
    endpoints: [{ name: NAME, type: 'A', targets: ['192.0.2.1'] }],
    errors: [],
    names: [NAME],
  },
});
const a1 = claim('a', 'one', '2024-01-01T00:00:01Z');
const a2 = claim('a', 'two', '2024-01-01T00:00:05Z');
const b1 = claim('b', 'one', '2024-01-01T00:00:00Z');
const c1 = claim('c', 'one', '2024-01-01T00:00:02Z');
const refuse: TenancyRules = { crossNamespaceClaims: 'refuse' };
const admitted = (r: ReturnType<typeof admitClaims>) => r.admitted.map((c) => c.resource).sort();
const refusedOf = (r: ReturnType<typeof admitClaims>) =>
  r.refused.map((x) => [x.claimant.resource, x.reason]);

describe('admitClaims', () => {
  it('gives a name nobody publishes yet to the oldest claim’s namespace, whose claims all merge', () => {
    const r = admitClaims(NAME, [a1, a2, b1], refuse, new Set());
    expect(admitted(r)).toEqual(['ingress/b/one']);
    expect(refusedOf(r).sort()).toEqual([
      ['ingress/a/one', 'NameTaken'],
      ['ingress/a/two', 'NameTaken'],
    ]);
    expect(r.refused[0]?.message).toBe(
      'web.example.com is held by namespace b (ingress/b/one): a name claimed from one namespace is not published for another',
    );
  });

  it('keeps the name with the namespace that publishes it, however old the others', () => {
    const r = admitClaims(NAME, [a1, a2, b1], refuse, new Set(['a']));
    expect(admitted(r)).toEqual(['ingress/a/one', 'ingress/a/two']);
    expect(refusedOf(r)).toEqual([['ingress/b/one', 'NameTaken']]);
    // Several published (merged before): the one of the oldest claim among them.
    expect(admitted(admitClaims(NAME, [a1, b1, c1], refuse, new Set(['a', 'c'])))).toEqual([
      'ingress/a/one',
    ]);
    // A publishing namespace that no longer claims the name holds nothing.
    expect(admitted(admitClaims(NAME, [a1, c1], refuse, new Set(['b'])))).toEqual([
      'ingress/a/one',
    ]);
  });

  it('judges DomainPolicies first: the holder comes from the claims they allow', () => {
    const rules: TenancyRules = {
      crossNamespaceClaims: 'refuse',
      judge: (ns, name) =>
        ns === 'b'
          ? {
              allowed: false,
              rule: 'no DomainPolicy selects namespace b',
              message: `${name}: no DomainPolicy selects namespace b`,
            }
          : { allowed: true },
    };
    const r = admitClaims(NAME, [a1, b1, c1], rules, new Set(['b']));
    expect(admitted(r)).toEqual(['ingress/a/one']);
    expect(refusedOf(r)).toEqual([
      ['ingress/b/one', 'DomainNotAllowed'],
      ['ingress/c/one', 'NameTaken'],
    ]);
    expect(r.refused[0]?.message).toBe('web.example.com: no DomainPolicy selects namespace b');
  });

  it('merges every allowed claim with merge', () => {
    const r = admitClaims(NAME, [a1, b1, c1], { crossNamespaceClaims: 'merge' }, new Set(['a']));
    expect(admitted(r)).toEqual(['ingress/a/one', 'ingress/b/one', 'ingress/c/one']);
    expect(r.refused).toEqual([]);
  });

  it('reads the namespace of an ownership resource, when it names one', () => {
    expect(resourceNamespace('ingress/demo/web')).toBe('demo');
    expect(resourceNamespace('service//x')).toBe('');
    expect(resourceNamespace('legacy')).toBeUndefined();
  });
});
