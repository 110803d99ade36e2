import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Change, type RecordSet, recordKey, sameRecord } from '../src/records.js';
import {
  namesChanged,
  sameResource,
  TxtRegistry,
  type ZoneView,
} from '../src/registry/txt-registry.js';

const zone = 'example.com';
const reg = new TxtRegistry({ ownerId: 'cluster-a' });
const a = (name: string, values = ['192.0.2.1']): RecordSet => ({
  name,
  type: 'A',
  ttl: 300,
  values,
});
const txt = (name: string, value: string): RecordSet => ({
  name,
  type: 'TXT',
  ttl: 300,
  values: [value],
});

describe('TXT registry', () => {
  it('names ownership records as external-dns does', () => {
    expect(reg.txtName('www.example.com', 'A', zone)).toBe('a-www.example.com');
    expect(reg.txtName('api.example.com', 'CNAME', zone)).toBe('cname-api.example.com');
    expect(reg.txtName('example.com', 'A', zone)).toBe('a-.example.com');
    const prefixed = new TxtRegistry({ ownerId: 'x', prefix: '%{record_type}-reg.' });
    expect(prefixed.txtName('www.example.com', 'AAAA', zone)).toBe('aaaa-reg.www.example.com');
    const suffixed = new TxtRegistry({ ownerId: 'x', suffix: '-owner' });
    expect(suffixed.txtName('www.example.com', 'A', zone)).toBe('a-www-owner.example.com');
    const wild = new TxtRegistry({ ownerId: 'x', wildcardReplacement: 'star' });
    expect(wild.txtName('*.apps.example.com', 'A', zone)).toBe('a-star.apps.example.com');
  });

  it('encodes and decodes the external-dns value', () => {
    const value = reg.encode('ingress/web/shop');
    expect(value).toBe(
      'heritage=external-dns,external-dns/owner=cluster-a,external-dns/resource=ingress/web/shop',
    );
    expect(reg.decode(`"${value}"`)).toEqual({ owner: 'cluster-a', resource: 'ingress/web/shop' });
    expect(reg.decode('v=spf1 -all')).toBeUndefined();
    expect(() => new TxtRegistry({ ownerId: 'a,b' })).toThrow(/ownerId/);
  });

  it('reads ownership in the new and the legacy format, and never mistakes marks for records', () => {
    const view = reg.read(zone, [
      a('new.example.com'),
      txt('a-new.example.com', reg.encode('ingress/ns/new')),
      a('legacy.example.com'),
      txt('legacy.example.com', reg.encode('service/ns/legacy')),
      a('theirs.example.com'),
      txt('a-theirs.example.com', reg.encode(undefined, 'cluster-b')),
      a('nobody.example.com'),
      txt('spf.example.com', 'v=spf1 -all'),
    ]);
    expect(reg.owns(view.records.get('new.example.com/A'))).toBe(true);
    expect(view.records.get('new.example.com/A')?.ownership?.resource).toBe('ingress/ns/new');
    expect(reg.owns(view.records.get('legacy.example.com/A'))).toBe(true);
    expect(reg.owns(view.records.get('theirs.example.com/A'))).toBe(false);
    expect(view.records.get('theirs.example.com/A')?.ownership?.owner).toBe('cluster-b');
    expect(view.records.get('nobody.example.com/A')?.ownership).toBeUndefined();
    expect(view.records.has('spf.example.com/TXT')).toBe(true);
    expect([...view.registry.keys()].sort()).toEqual([
      'a-new.example.com/TXT',
      'a-theirs.example.com/TXT',
      'legacy.example.com/TXT',
    ]);
  });

  it('groups each record change with its ownership TXT change', () => {
    const view = reg.read(zone, [
      a('old.example.com'),
      txt('a-old.example.com', reg.encode('ingress/ns/old')),
    ]);
    const changes = reg.withOwnership(
      zone,
      [
        { action: 'create', record: a('new.example.com'), resource: 'ingress/ns/new' },
        { action: 'delete', record: a('old.example.com') },
      ],
      view,
    );
    expect(changes).toEqual([
      { action: 'create', record: a('new.example.com'), group: 'new.example.com/A' },
      {
        action: 'create',
        record: txt('a-new.example.com', reg.encode('ingress/ns/new')),
        group: 'new.example.com/A',
      },
      { action: 'delete', record: a('old.example.com'), group: 'old.example.com/A' },
      {
        action: 'delete',
        record: txt('a-old.example.com', reg.encode('ingress/ns/old')),
        group: 'old.example.com/A',
      },
    ]);
  });

  it('moves a record to the new format when it changes, and drops a legacy mark no one else needs', () => {
    const legacyMark = txt('legacy.example.com', reg.encode('ingress/ns/l'));
    const view = reg.read(zone, [a('legacy.example.com'), legacyMark]);
    const upd = reg.withOwnership(
      zone,
      [
        {
          action: 'update',
          old: a('legacy.example.com'),
          record: a('legacy.example.com', ['192.0.2.2']),
          resource: 'ingress/ns/l',
        },
      ],
      view,
    );
    expect(upd.map((c) => `${c.action} ${c.record.name} ${c.record.type}`)).toEqual([
      'update legacy.example.com A',
      'create a-legacy.example.com TXT',
    ]);
    const del = reg.withOwnership(
      zone,
      [{ action: 'delete', record: a('legacy.example.com') }],
      view,
    );
    expect(del.map((c) => `${c.action} ${c.record.name} ${c.record.type}`)).toEqual([
      'delete legacy.example.com A',
      'delete legacy.example.com TXT',
    ]);
  });
});

describe('TXT registry: what changed between two reads of a zone', () => {
  const mark = (name: string) => txt(`a-${name}`, reg.encode(`ingress/web/${name}`));
  const listing = [a('www.example.com'), mark('www.example.com'), a('api.example.com')];

  it('names the records added, removed or changed, and nothing for the same records', () => {
    const before = reg.read(zone, listing);
    expect(
      namesChanged(
        before,
        reg.read(
          zone,
          listing.map((r) => ({ ...r })),
        ),
      ),
    ).toEqual(new Set());
    const after = reg.read(zone, [
      a('www.example.com', ['192.0.2.9']),
      mark('www.example.com'),
      a('new.example.com'),
    ]);
    expect(namesChanged(before, after)).toEqual(
      new Set(['www.example.com', 'api.example.com', 'new.example.com']),
    );
  });

  it('cannot tell when an ownership record changed: it may relabel any record', () => {
    const before = reg.read(zone, listing);
    const moved = txt('a-www.example.com', reg.encode('ingress/other/www'));
    expect(namesChanged(before, reg.read(zone, [listing[0]!, moved, listing[2]!]))).toBe(undefined);
  });
});

describe('TXT registry: a view kept up to date by applied changes', () => {
  const names = ['example.com', 'www.example.com', 'api.example.com', '*.apps.example.com'];
  const types = ['A', 'AAAA', 'CNAME', 'MX', 'TXT'] as const;
  const registries = [
    reg,
    new TxtRegistry({ ownerId: 'cluster-a', prefix: '%{record_type}-reg.' }),
    new TxtRegistry({ ownerId: 'cluster-a', suffix: '-own', wildcardReplacement: 'star' }),
  ];
  // Any record of the universe: a data record, or an ownership TXT (typed or legacy) for one.
  const recordArb = (r: TxtRegistry) =>
    fc.oneof(
      fc
        .record({ name: fc.constantFrom(...names), type: fc.constantFrom(...types), v: fc.nat(3) })
        .map(
          ({ name, type, v }): RecordSet => ({ name, type, ttl: 300, values: [`${type}-${v}`] }),
        ),
      fc
        .record({
          name: fc.constantFrom(...names),
          type: fc.option(fc.constantFrom(...types)),
          owner: fc.constantFrom('cluster-a', 'cluster-b'),
          resource: fc.option(fc.constantFrom('ingress/ns/a', 'service/ns/b')),
        })
        .map(
          ({ name, type, owner, resource }): RecordSet =>
            txt(
              type ? r.txtName(name, type, zone) : r.legacyTxtName(name),
              r.encode(resource ?? undefined, owner),
            ),
        ),
    );
  const snapshot = (view: ZoneView) => ({
    records: [...view.records.entries()]
      .map(([key, o]) => [
        key,
        o.record.values,
        o.ownership && [o.ownership.owner, o.ownership.resource, recordKey(o.ownership.txt)],
      ])
      .sort(),
    registry: [...view.registry.keys()].sort(),
  });

  /**
   * `before` read, then `touched` applied (created, updated or deleted) and folded in with
   * update(); with the zone's records after. Undefined when two changes touch one key (they
   * would not come in one apply).
   */
  const applied = (r: TxtRegistry, before: RecordSet[], touched: RecordSet[]) => {
    const zoneNow = new Map(before.map((x) => [recordKey(x), x]));
    const view = r.read(zone, [...zoneNow.values()]);
    const changes: Change[] = touched.map((x) => {
      const old = zoneNow.get(recordKey(x));
      if (!old) return { action: 'create', record: x };
      return sameRecord(old, x)
        ? { action: 'delete', record: old }
        : { action: 'update', old, record: x };
    });
    for (const c of changes) {
      if (c.action === 'delete') zoneNow.delete(recordKey(c.record));
      else zoneNow.set(recordKey(c.record), c.record);
    }
    const keys = changes.map((c) => recordKey(c.record));
    if (new Set(keys).size !== keys.length) return undefined;
    r.update(view, changes);
    return { view, after: [...zoneNow.values()] };
  };
  const anyChanges = (r: TxtRegistry) =>
    [fc.array(recordArb(r), { maxLength: 12 }), fc.array(recordArb(r), { maxLength: 10 })] as const;

  it('equals the view read from the zone after the changes, for any changes', () => {
    for (const r of registries) {
      fc.assert(
        fc.property(...anyChanges(r), (before, touched) => {
          const result = applied(r, before, touched);
          if (!result) return;
          expect(snapshot(result.view)).toEqual(snapshot(r.read(zone, result.after)));
        }),
        { numRuns: 300 },
      );
    }
  });

  it('issue 12: which objects hold our records is indexed, and stays true through any changes', () => {
    const resources = ['ingress/ns/a', 'service/ns/b', 'dnsendpoint/ns/c', 'crd/ns/c', 'x/y/z'];
    for (const r of registries) {
      fc.assert(
        fc.property(...anyChanges(r), (before, touched) => {
          const result = applied(r, before, touched);
          if (!result) return;
          // What a scan of every record finds, against the index, kept and read afresh.
          const scanned = (resource: string) =>
            [...result.view.records.values()].some(
              (o) => r.owns(o) && sameResource(o.ownership?.resource, resource),
            );
          for (const resource of resources) {
            expect(r.holdsRecordsOf(result.view, resource)).toBe(scanned(resource));
            expect(r.holdsRecordsOf(r.read(zone, result.after), resource)).toBe(scanned(resource));
          }
          expect(result.view.owned).toEqual(r.read(zone, result.after).owned);
        }),
        { numRuns: 300 },
      );
    }
  });
});

describe('difference 3: ownership TXT names as external-dns v0.22 names them, for every template', () => {
  // The cases of external-dns v0.22's registry/mapper/mapper_test.go (ToTXTName), and more.
  it.each([
    ['%{record_type}-', '', '', 'foo.example.com', 'AAAA', 'aaaa-foo.example.com'],
    ['', '-%{record_type}', '', 'foo.example.com', 'A', 'foo-a.example.com'],
    ['', '-%{record_type}', '', 'foo.example.com', 'CNAME', 'foo-cname.example.com'],
    ['', '.%{record_type}', '', 'www.example.com', 'A', 'www.a.example.com'],
    ['txt-', '', 'wild', '*.example.com', 'A', 'txt-a-wild.example.com'],
    ['txt.', '', '', 'www.example.com', 'A', 'txt.a-www.example.com'],
    ['TXT-%{record_type}.', '', '', 'www.example.com', 'A', 'txt-a.www.example.com'],
    ['', '-owner', '', 'www.example.com', 'A', 'a-www-owner.example.com'],
    ['', '', '', 'foo.example.com', 'MX', 'mx-foo.example.com'],
  ])(
    'prefix "%s" suffix "%s" wildcard "%s": %s %s -> %s',
    (prefix, suffix, wild, name, type, want) => {
      const r = new TxtRegistry({
        ownerId: 'x',
        ...(prefix ? { prefix } : {}),
        ...(suffix ? { suffix } : {}),
        ...(wild ? { wildcardReplacement: wild } : {}),
      });
      expect(r.txtName(name, type as RecordSet['type'], zone)).toBe(want);
    },
  );

  it('finds external-dns marks: of a suffix template, a legacy affixed one, an alias A of old', () => {
    const suffixed = new TxtRegistry({ ownerId: 'x', suffix: '-%{record_type}' });
    const value = suffixed.encode('ingress/ns/web');
    const alias = {
      ...a('lb.example.com'),
      values: [],
      alias: { hostedZoneId: 'Z', dnsName: 'x.y' },
    };
    const view = suffixed.read(zone, [
      a('www.example.com'),
      txt('www-a.example.com', value),
      a('old.example.com'),
      // external-dns before v0.12: one typeless mark, affixed without the template.
      txt('old-.example.com', value),
      { ...a('old.example.com'), type: 'AAAA', values: ['2001:db8::1'] },
      alias,
      txt('lb-cname.example.com', value),
    ]);
    expect(suffixed.owns(view.records.get('www.example.com/A'))).toBe(true);
    expect(suffixed.owns(view.records.get('old.example.com/A'))).toBe(true);
    // As in external-dns, a legacy mark never vouches for AAAA.
    expect(suffixed.owns(view.records.get('old.example.com/AAAA'))).toBe(false);
    expect(view.records.get('lb.example.com/A')?.ownership?.txt.name).toBe('lb-cname.example.com');
  });

  it('refuses a prefix and a suffix together, as external-dns does', () => {
    expect(() => new TxtRegistry({ ownerId: 'x', prefix: 'p-', suffix: '-s' })).toThrow(
      /exclude each other/,
    );
  });
});
