// A conformance suite every Provider passes: run it from a vitest file with a factory
// that starts the real service (see test/*-conformance.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Change, type RecordSet, recordKey, type Zone } from '../records.js';
import type { ApplyResult, Provider } from './provider.js';

export interface ConformanceTarget {
  provider: Provider;
  /** An empty zone the suite may write to. */
  zone: Zone;
  /**
   * What a resolver sees: the values answered for a name and type (e.g. `dig` at the
   * authoritative server), in the record model's presentation form. Optional.
   */
  lookup?(name: string, type: RecordSet['type']): Promise<string[]>;
  stop(): Promise<void>;
}

const sorted = (values: string[]) => [...values].sort();

/** What each group of tests reaches: the started target and helpers over it. */
interface Suite {
  readonly t: ConformanceTarget;
  /** `sub` as a name in the zone. */
  at(sub: string): string;
  find(name: string, type: RecordSet['type']): Promise<RecordSet | undefined>;
  /** Applies changes and expects every one to succeed. */
  applyAll(changes: Change[]): Promise<ApplyResult>;
}

export function providerConformance(label: string, start: () => Promise<ConformanceTarget>): void {
  describe(`${label}: provider conformance`, () => {
    let t: ConformanceTarget;
    beforeAll(async () => {
      t = await start();
    });
    afterAll(() => t?.stop());

    const s: Suite = {
      get t() {
        return t;
      },
      at: (sub) => `${sub}.${t.zone.name}`,
      find: async (name, type) =>
        (await t.provider.records(t.zone)).find((r) => recordKey(r) === recordKey({ name, type })),
      applyAll: async (changes) => {
        const res = await t.provider.apply(t.zone, changes);
        expect(res.failed.map((f) => `${recordKey(f.change.record)}: ${f.error.message}`)).toEqual(
          [],
        );
        return res;
      },
    };
    readWriteTests(s);
    rrsetTests(s);
    batchAndEditTests(s);
  });
}

/** Reads the zone, writes each managed type, updates and deletes. */
function readWriteTests(s: Suite): void {
  it('lists the zone', async () => {
    expect((await s.t.provider.zones()).map((z) => z.name)).toContain(s.t.zone.name);
  });

  it('creates every managed type and reads it back as written', async () => {
    const longText = `v=long;${'x'.repeat(400)}`;
    const records: RecordSet[] = [
      { name: s.at('a'), type: 'A', ttl: 300, values: ['192.0.2.1', '192.0.2.2'] },
      { name: s.at('aaaa'), type: 'AAAA', ttl: 300, values: ['2001:db8::1'] },
      { name: s.at('cname'), type: 'CNAME', ttl: 120, values: ['target.example.net'] },
      { name: s.at('txt'), type: 'TXT', ttl: 60, values: ['hello world', 'k=v,x=y', longText] },
      {
        name: `_https._tcp.${s.t.zone.name}`,
        type: 'SRV',
        ttl: 300,
        values: [`10 5 443 svc.${s.t.zone.name}`],
      },
      { name: s.t.zone.name, type: 'MX', ttl: 300, values: ['10 mail.example.net'] },
      { name: `*.wild.${s.t.zone.name}`, type: 'A', ttl: 300, values: ['192.0.2.9'] },
    ];
    await s.applyAll(records.map((record) => ({ action: 'create', record })));
    for (const r of records) {
      const got = await s.find(r.name, r.type);
      expect(got, recordKey(r)).toBeDefined();
      expect(got!.ttl).toBe(r.ttl);
      expect(sorted(got!.values)).toEqual(sorted(r.values));
    }
    if (s.t.lookup) {
      expect(sorted(await s.t.lookup(s.at('a'), 'A'))).toEqual(['192.0.2.1', '192.0.2.2']);
      expect(await s.t.lookup(s.at('cname'), 'CNAME')).toEqual(['target.example.net']);
      expect(sorted(await s.t.lookup(s.at('txt'), 'TXT'))).toEqual(
        sorted(['hello world', 'k=v,x=y', longText]),
      );
      expect(await s.t.lookup(`anything.wild.${s.t.zone.name}`, 'A')).toEqual(['192.0.2.9']);
    }
  });

  it('updates values and TTL, then deletes', async () => {
    const old: RecordSet = { name: s.at('upd'), type: 'A', ttl: 300, values: ['192.0.2.10'] };
    await s.applyAll([{ action: 'create', record: old }]);
    const record: RecordSet = { ...old, ttl: 60, values: ['192.0.2.11', '192.0.2.12'] };
    await s.applyAll([{ action: 'update', old, record }]);
    const got = await s.find(old.name, 'A');
    expect(got?.ttl).toBe(60);
    expect(sorted(got!.values)).toEqual(['192.0.2.11', '192.0.2.12']);
    if (s.t.lookup)
      expect(sorted(await s.t.lookup(old.name, 'A'))).toEqual(['192.0.2.11', '192.0.2.12']);
    await s.applyAll([{ action: 'delete', record }]);
    expect(await s.find(old.name, 'A')).toBeUndefined();
    if (s.t.lookup) expect(await s.t.lookup(old.name, 'A')).toEqual([]);
  });
}

/** What a name may hold: no CNAME beside other data, several TXT values. */
function rrsetTests(s: Suite): void {
  it('refuses a CNAME beside other records', async () => {
    await s.applyAll([
      {
        action: 'create',
        record: { name: s.at('taken'), type: 'A', ttl: 300, values: ['192.0.2.20'] },
      },
    ]);
    const res = await s.t.provider.apply(s.t.zone, [
      {
        action: 'create',
        record: { name: s.at('taken'), type: 'CNAME', ttl: 300, values: ['x.example.net'] },
      },
    ]);
    if (res.failed.length === 0) {
      // moto (the Route53 stand-in) accepts it where Route53 refuses: skip what it cannot show.
      expect(s.t.provider.name).toBe('route53');
      return;
    }
    expect(await s.find(s.at('taken'), 'CNAME')).toBeUndefined();
  });

  it('keeps several TXT values for one name, and changes one without touching the others', async () => {
    const old: RecordSet = {
      name: s.at('_acme-challenge'),
      type: 'TXT',
      ttl: 60,
      values: ['token-1'],
    };
    await s.applyAll([{ action: 'create', record: old }]);
    const two = { ...old, values: ['token-1', 'token-2'] };
    await s.applyAll([{ action: 'update', old, record: two }]);
    expect(sorted((await s.find(old.name, 'TXT'))!.values)).toEqual(['token-1', 'token-2']);
    await s.applyAll([{ action: 'update', old: two, record: { ...old, values: ['token-2'] } }]);
    expect((await s.find(old.name, 'TXT'))!.values).toEqual(['token-2']);
  });
}

/** Partial batches and single-value edits. */
function batchAndEditTests(s: Suite): void {
  it('applies the good groups of a batch when one group is rejected', async () => {
    const res = await s.t.provider.apply(s.t.zone, [
      {
        action: 'create',
        group: 'g1',
        record: { name: s.at('good1'), type: 'A', ttl: 300, values: ['192.0.2.21'] },
      },
      {
        action: 'create',
        group: 'g1',
        record: { name: s.at('a-good1'), type: 'TXT', ttl: 300, values: ['owner'] },
      },
      // Deleting a record that is not there: every DNS service refuses it.
      {
        action: 'delete',
        group: 'bad',
        record: { name: s.at('ghost'), type: 'A', ttl: 300, values: ['192.0.2.99'] },
      },
      {
        action: 'create',
        group: 'g2',
        record: { name: s.at('good2'), type: 'A', ttl: 300, values: ['192.0.2.22'] },
      },
    ]);
    expect(res.failed.map((f) => f.change.group)).toEqual(['bad']);
    expect(res.applied.map((c) => c.group).sort()).toEqual(['g1', 'g1', 'g2']);
    expect(await s.find(s.at('good1'), 'A')).toBeDefined();
    expect(await s.find(s.at('a-good1'), 'TXT')).toBeDefined();
    expect(await s.find(s.at('good2'), 'A')).toBeDefined();
  });

  it('edits single values without touching the others, where it can (editValue)', async (ctx) => {
    const { editValue } = s.t.provider;
    if (!editValue) return ctx.skip();
    const edit = (op: 'add' | 'remove', value: string) =>
      editValue.call(s.t.provider, s.t.zone, {
        op,
        name: s.at('edit'),
        type: 'TXT',
        ttl: 60,
        value,
      });
    await s.applyAll([
      {
        action: 'create',
        record: { name: s.at('edit'), type: 'TXT', ttl: 60, values: ['theirs'] },
      },
    ]);
    await Promise.all([edit('add', 'one'), edit('add', 'two')]);
    await edit('add', 'one'); // present: nothing changes
    expect(sorted((await s.find(s.at('edit'), 'TXT'))?.values ?? [])).toEqual([
      'one',
      'theirs',
      'two',
    ]);
    await edit('remove', 'one');
    await edit('remove', 'absent'); // absent: nothing changes
    expect(sorted((await s.find(s.at('edit'), 'TXT'))?.values ?? [])).toEqual(['theirs', 'two']);
    if (s.t.lookup)
      expect(sorted(await s.t.lookup(s.at('edit'), 'TXT'))).toEqual(['theirs', 'two']);
  });
}
