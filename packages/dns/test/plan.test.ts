import { describe, expect, it } from 'vitest';
import { type DesiredRecord, plan } from '../src/plan/plan.js';
import type { RecordSet } from '../src/records.js';
import { TxtRegistry } from '../src/registry/txt-registry.js';

const zone = 'example.com';
const registry = new TxtRegistry({ ownerId: 'me' });
const rec = (name: string, type: RecordSet['type'], values: string[], ttl = 300): RecordSet => ({
  name,
  type,
  ttl,
  values,
});
const mark = (name: string, type: string, owner = 'me', resource = 'ingress/ns/x'): RecordSet =>
  rec(`${type.toLowerCase()}-${name}`, 'TXT', [registry.encode(resource, owner)]);
const want = (record: RecordSet, resource = 'ingress/ns/x'): DesiredRecord => ({
  record,
  resource,
});
const summary = (changes: ReturnType<typeof plan>['changes']) =>
  changes.map((c) => `${c.action} ${c.record.name} ${c.record.type} ${c.record.values.join(',')}`);

describe('plan', () => {
  const current = [
    rec('same.example.com', 'A', ['192.0.2.1']),
    mark('same.example.com', 'A'),
    rec('changed.example.com', 'A', ['192.0.2.1']),
    mark('changed.example.com', 'A'),
    rec('orphan.example.com', 'A', ['192.0.2.1']),
    mark('orphan.example.com', 'A'),
    rec('theirs.example.com', 'A', ['192.0.2.1']),
    mark('theirs.example.com', 'A', 'someone-else'),
    rec('manual.example.com', 'A', ['192.0.2.1']),
    rec('mx.example.com', 'MX', ['10 mail.example.com']),
  ];
  const view = registry.read(zone, current);
  const desired = [
    want(rec('same.example.com', 'A', ['192.0.2.1'])),
    want(rec('changed.example.com', 'A', ['192.0.2.2'])),
    want(rec('new.example.com', 'CNAME', ['lb.example.net'])),
    want(rec('theirs.example.com', 'A', ['192.0.2.9'])),
    want(rec('manual.example.com', 'A', ['192.0.2.9'])),
  ];

  it('creates, updates and deletes only what it owns (sync)', () => {
    const p = plan({ desired, view, registry });
    expect(summary(p.changes).sort()).toEqual([
      'create new.example.com CNAME lb.example.net',
      'delete orphan.example.com A 192.0.2.1',
      'update changed.example.com A 192.0.2.2',
    ]);
    expect(p.conflicts.map((c) => `${c.desired.record.name} ${c.reason}`).sort()).toEqual([
      'manual.example.com unowned',
      'theirs.example.com owned-by-other',
    ]);
  });

  it('honours upsert-only and create-only', () => {
    expect(
      summary(plan({ desired, view, registry, policy: 'upsert-only' }).changes).sort(),
    ).toEqual([
      'create new.example.com CNAME lb.example.net',
      'update changed.example.com A 192.0.2.2',
    ]);
    const createOnly = plan({ desired, view, registry, policy: 'create-only' });
    expect(summary(createOnly.changes)).toEqual(['create new.example.com CNAME lb.example.net']);
    expect(createOnly.conflicts.some((c) => c.reason === 'policy')).toBe(true);
  });

  it('plans only the names in scope', () => {
    const p = plan({
      desired: desired.filter((d) => d.record.name === 'changed.example.com'),
      view,
      registry,
      names: ['changed.example.com'],
    });
    expect(summary(p.changes)).toEqual(['update changed.example.com A 192.0.2.2']);
  });

  it('changes a type by deleting first, and refuses a CNAME beside other records', () => {
    const v = registry.read(zone, [
      rec('swap.example.com', 'A', ['192.0.2.1']),
      mark('swap.example.com', 'A'),
      rec('busy.example.com', 'TXT', ['v=spf1 -all']),
    ]);
    const p = plan({
      desired: [
        want(rec('swap.example.com', 'CNAME', ['lb.example.net'])),
        want(rec('busy.example.com', 'CNAME', ['lb.example.net'])),
      ],
      view: v,
      registry,
      managedTypes: new Set(['A', 'CNAME']),
    });
    expect(summary(p.changes)).toEqual([
      'delete swap.example.com A 192.0.2.1',
      'create swap.example.com CNAME lb.example.net',
    ]);
    expect(p.conflicts.map((c) => `${c.desired.record.name} ${c.reason}`)).toEqual([
      'busy.example.com cname-conflict',
    ]);
  });

  it('finding 4: names the clash from either side, never "a CNAME ... with CNAME"', () => {
    const v = registry.read(zone, [
      rec('alias.example.com', 'CNAME', ['elsewhere.example.net']),
      rec('busy.example.com', 'TXT', ['v=spf1 -all']),
    ]);
    const p = plan({
      desired: [
        want(rec('alias.example.com', 'A', ['192.0.2.1'])),
        want(rec('busy.example.com', 'CNAME', ['lb.example.net'])),
      ],
      view: v,
      registry,
      managedTypes: new Set(['A', 'CNAME', 'TXT']),
    });
    expect(p.conflicts.map((c) => c.message)).toEqual([
      'alias.example.com is a CNAME, which must be alone at its name: no A record can be added beside it',
      'busy.example.com already has TXT records, and a CNAME must be alone at its name',
    ]);
  });

  it('leaves unmanaged types alone and rewrites only the mark when the resource changes', () => {
    const p = plan({
      desired: [want(rec('same.example.com', 'A', ['192.0.2.1']), 'service/ns/other')],
      view,
      registry,
      names: ['same.example.com', 'mx.example.com'],
    });
    expect(p.changes).toHaveLength(1);
    expect(p.changes[0]).toMatchObject({ action: 'update', resource: 'service/ns/other' });
    const withMarks = registry.withOwnership(zone, p.changes, view);
    expect(withMarks.map((c) => `${c.action} ${c.record.name} ${c.record.type}`)).toEqual([
      'update a-same.example.com TXT',
    ]);
  });
});

describe('TTLs and resources as external-dns leaves them', () => {
  // external-dns's RFC2136 provider writes TTL 0 where none is configured, and labels
  // DNSEndpoint records crd/NS/NAME: neither is a reason to write on taking a zone over.
  const view = registry.read(zone, [
    rec('zero.example.com', 'A', ['192.0.2.1'], 0),
    mark('zero.example.com', 'A', 'me', 'crd/ns/records'),
  ]);

  it('keeps the TTL of a record when none is asked for, and follows one that is', () => {
    const unset = {
      ...want(rec('zero.example.com', 'A', ['192.0.2.1']), 'dnsendpoint/ns/records'),
      keepTtl: true,
    };
    expect(plan({ desired: [unset], view, registry }).changes).toEqual([]);
    const changed = { ...unset, record: rec('zero.example.com', 'A', ['192.0.2.2']) };
    expect(plan({ desired: [changed], view, registry }).changes).toEqual([
      expect.objectContaining({
        action: 'update',
        record: rec('zero.example.com', 'A', ['192.0.2.2'], 0),
      }),
    ]);
    const asked = want(rec('zero.example.com', 'A', ['192.0.2.1'], 60), 'dnsendpoint/ns/records');
    expect(summary(plan({ desired: [asked], view, registry }).changes)).toEqual([
      'update zero.example.com A 192.0.2.1',
    ]);
  });
});
