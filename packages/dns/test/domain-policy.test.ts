import { describe, expect, it } from 'vitest';
import {
  type DomainPolicy,
  type DomainRule,
  isUnderSuffix,
  judgeName,
  touchedBy,
} from '../src/domain-policy/index.js';

const policy = (
  name: string,
  domains: DomainRule[],
  select: Pick<DomainPolicy['spec'], 'namespaces' | 'namespaceSelector'>,
): DomainPolicy => ({ metadata: { name }, spec: { ...select, domains } });

const team = { name: 'team-a', labels: { tenant: 'a', tier: 'web' } };

describe('domain policy: judgeName', () => {
  it('allows everything, wildcards and apexes included, while no policy exists', () => {
    for (const name of ['example.com', '*.example.com', 'a.b.example.org']) {
      expect(judgeName([], team, name)).toEqual({ allowed: true });
    }
  });

  it('allows names strictly under a suffix, by whole labels only', () => {
    const p = [policy('a', [{ suffix: 'example.com' }], { namespaces: ['team-a'] })];
    expect(judgeName(p, team, 'web.example.com')).toEqual({
      allowed: true,
      rule: 'DomainPolicy a domains[0] (example.com)',
    });
    expect(judgeName(p, team, 'Deep.Web.EXAMPLE.com.').allowed).toBe(true);
    // The suffix boundary: a name ending in the same characters is not under it.
    const evil = judgeName(p, team, 'evil-example.com');
    expect(evil).toEqual({
      allowed: false,
      rule: 'DomainPolicies selecting namespace team-a: a (example.com)',
      message:
        'evil-example.com is under none of the suffixes of the DomainPolicies selecting namespace team-a: a (example.com)',
    });
    expect(judgeName(p, team, 'example.com.evil.org').allowed).toBe(false);
  });

  it('allows the suffix itself only with apex, and wildcards only with wildcards', () => {
    const strict = [policy('strict', [{ suffix: 'example.com' }], { namespaces: ['team-a'] })];
    expect(judgeName(strict, team, 'example.com')).toEqual({
      allowed: false,
      rule: 'DomainPolicy strict domains[0] (example.com)',
      message:
        'example.com: DomainPolicy strict domains[0] (example.com) does not allow the suffix itself (apex: false)',
    });
    expect(judgeName(strict, team, '*.example.com')).toMatchObject({
      allowed: false,
      message:
        '*.example.com: DomainPolicy strict domains[0] (example.com) does not allow wildcard names (wildcards: false)',
    });
    expect(judgeName(strict, team, '*.app.example.com').allowed).toBe(false);

    const open = [
      policy('open', [{ suffix: 'example.com', apex: true, wildcards: true }], {
        namespaces: ['team-a'],
      }),
    ];
    for (const name of ['example.com', '*.example.com', '*.app.example.com']) {
      expect(judgeName(open, team, name).allowed).toBe(true);
    }
  });

  it('takes any rule that allows, and refuses naming the most specific rule that came close', () => {
    const p = [
      policy('broad', [{ suffix: 'example.com', wildcards: true }], { namespaces: ['team-a'] }),
      policy('narrow', [{ suffix: 'app.example.com' }], { namespaces: ['team-a'] }),
    ];
    // narrow alone refuses the wildcard; broad allows it.
    expect(judgeName(p, team, '*.app.example.com')).toEqual({
      allowed: true,
      rule: 'DomainPolicy broad domains[0] (example.com)',
    });
    // narrow refuses its own apex; broad allows it as a name below example.com.
    expect(judgeName(p, team, 'app.example.com')).toEqual({
      allowed: true,
      rule: 'DomainPolicy broad domains[0] (example.com)',
    });
    expect(judgeName(p, team, 'example.com')).toMatchObject({
      allowed: false,
      rule: 'DomainPolicy broad domains[0] (example.com)',
    });
    // Both refuse a wildcard below app.example.com: the refusal names the closer rule.
    const strict = [
      policy('broad', [{ suffix: 'example.com' }], { namespaces: ['team-a'] }),
      policy('narrow', [{ suffix: 'app.example.com' }], { namespaces: ['team-a'] }),
    ];
    expect(judgeName(strict, team, '*.app.example.com')).toMatchObject({
      allowed: false,
      rule: 'DomainPolicy narrow domains[0] (app.example.com)',
    });
  });

  it('applies a policy to the namespaces it lists or its selector matches, and to no other', () => {
    const p = [
      policy('by-label', [{ suffix: 'a.example.com' }], {
        namespaceSelector: {
          matchLabels: { tenant: 'a' },
          matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'api'] }],
        },
      }),
      policy('by-name', [{ suffix: 'b.example.com' }], { namespaces: ['team-b'] }),
    ];
    expect(judgeName(p, team, 'x.a.example.com').allowed).toBe(true);
    expect(judgeName(p, team, 'x.b.example.com')).toMatchObject({
      allowed: false,
      message:
        'x.b.example.com is under none of the suffixes of the DomainPolicies selecting namespace team-a: by-label (a.example.com)',
    });
    const other = { name: 'team-a2', labels: { tenant: 'a', tier: 'batch' } };
    expect(judgeName(p, other, 'x.a.example.com')).toEqual({
      allowed: false,
      rule: 'no DomainPolicy selects namespace team-a2',
      message: 'x.a.example.com: no DomainPolicy selects namespace team-a2',
    });
    // Labels not known (a namespace not seen yet): only the list of names can select it.
    expect(judgeName(p, { name: 'team-b' }, 'x.b.example.com').allowed).toBe(true);
    expect(judgeName(p, { name: 'team-a' }, 'x.a.example.com').allowed).toBe(false);
    // {} selects every namespace.
    const everyone = [policy('all', [{ suffix: 'shared.example.com' }], { namespaceSelector: {} })];
    expect(judgeName(everyone, { name: 'anyone' }, 'x.shared.example.com').allowed).toBe(true);
  });

  it('keeps refusal messages short however many policies select the namespace', () => {
    const many = Array.from({ length: 20 }, (_, i) =>
      policy(`p${String(i).padStart(2, '0')}`, [{ suffix: `s${i}.example.com` }], {
        namespaces: ['team-a'],
      }),
    );
    const verdict = judgeName(many, team, 'other.example.org');
    expect(verdict.allowed).toBe(false);
    expect(!verdict.allowed && verdict.message).toMatch(/p04 \(s4\.example\.com\); and 15 more$/);
  });
});

describe('domain policy: suffixes and changes', () => {
  it('compares names by whole labels, in lower case, without the trailing dot', () => {
    expect(isUnderSuffix('example.com', 'example.com')).toBe(true);
    expect(isUnderSuffix('A.Example.Com.', 'example.com')).toBe(true);
    expect(isUnderSuffix('*.example.com', 'example.com')).toBe(true);
    expect(isUnderSuffix('evil-example.com', 'example.com')).toBe(false);
    expect(isUnderSuffix('xample.com', 'example.com')).toBe(false);
    expect(isUnderSuffix('com', 'example.com')).toBe(false);
  });

  it('tells which names a policy change may judge otherwise', () => {
    const change = { all: false as const, suffixes: ['a.example.com', 'b.example.org'] };
    expect(touchedBy(change, 'x.a.example.com')).toBe(true);
    expect(touchedBy(change, 'b.example.org')).toBe(true);
    expect(touchedBy(change, 'x.example.com')).toBe(false);
    expect(touchedBy({ all: true }, 'x.example.com')).toBe(true);
  });
});
