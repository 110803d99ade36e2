import {
  ChangeResourceRecordSetsCommand,
  ChangeTagsForResourceCommand,
  CreateHostedZoneCommand,
  ListResourceRecordSetsCommand,
  type ListResourceRecordSetsCommandOutput,
  type ResourceRecordSet,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { metricsRegistry } from '@chousei/runtime';
import {
  type Moto,
  startFaultProxy,
  startMoto,
  ROUTE53_THROTTLING as THROTTLING,
  SERVICE_UNAVAILABLE as UNAVAILABLE,
} from '@chousei/testenv';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError } from '../src/provider/provider.js';
import {
  ALIAS_TTL,
  aliasFor,
  fromRoute53,
  Route53Provider,
  type Route53ProviderOptions,
  sharedLimiter,
} from '../src/provider/route53/index.js';
import { type Change, type RecordSet, recordKey, type Zone } from '../src/records.js';

let moto: Moto;
let aws: { endpoint: string; region: string; credentials: Moto['credentials'] };
/** Talks to moto directly: set-up and assertions, outside the provider and its limiter. */
let admin: Route53Client;

beforeAll(async () => {
  moto = await startMoto();
  aws = { endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials };
  admin = new Route53Client(aws);
});
afterAll(() => moto?.stop());
beforeEach(() => moto.reset());

const provider = (options: Route53ProviderOptions = {}) =>
  new Route53Provider({ ...aws, ...options });

async function createZone(
  name: string,
  opts: { private?: boolean; tags?: Record<string, string> } = {},
): Promise<Zone> {
  const out = await admin.send(
    new CreateHostedZoneCommand({
      Name: name,
      CallerReference: `${name}-${Math.random()}`,
      HostedZoneConfig: { PrivateZone: opts.private ?? false },
    }),
  );
  const id = out.HostedZone!.Id!.replace('/hostedzone/', '');
  if (opts.tags) {
    await admin.send(
      new ChangeTagsForResourceCommand({
        ResourceType: 'hostedzone',
        ResourceId: id,
        AddTags: Object.entries(opts.tags).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
  }
  return { id, name };
}

/** Every record set in the zone as moto holds it, read without the provider. */
async function listDirect(zone: Zone): Promise<ResourceRecordSet[]> {
  const all: ResourceRecordSet[] = [];
  let start: { name?: string; type?: ResourceRecordSet['Type'] } | undefined = {};
  while (start) {
    const page: ListResourceRecordSetsCommandOutput = await admin.send(
      new ListResourceRecordSetsCommand({
        HostedZoneId: zone.id,
        StartRecordName: start.name,
        StartRecordType: start.type,
      }),
    );
    all.push(...(page.ResourceRecordSets ?? []));
    start = page.IsTruncated ? { name: page.NextRecordName, type: page.NextRecordType } : undefined;
  }
  return all;
}

async function stateOf(zone: Zone): Promise<Map<string, RecordSet>> {
  const sets = (await listDirect(zone)).map((rr) => fromRoute53(rr)!);
  const keys = sets.map(recordKey);
  expect(new Set(keys).size, 'no record set twice').toBe(keys.length);
  return new Map(sets.map((r) => [recordKey(r), r]));
}

const pad = (i: number) => String(i).padStart(4, '0');

/** A record and its ownership TXT, as the planner groups them. */
function owned(i: number, zone: string): Change[] {
  const group = `svc-${pad(i)}`;
  return [
    {
      action: 'create',
      group,
      record: { name: `${group}.${zone}`, type: 'A', ttl: 300, values: ['192.0.2.10'] },
    },
    {
      action: 'create',
      group,
      record: {
        name: `a-${group}.${zone}`,
        type: 'TXT',
        ttl: 300,
        values: [`heritage=chousei,chousei/owner=bench,chousei/resource=service/default/${group}`],
      },
    },
  ];
}

// --- tests ---------------------------------------------------------------------------------

describe('zones', () => {
  it('filters by domain, excluded domain, id, type and tags', async () => {
    const com = await createZone('example.com', { tags: { team: 'a', env: 'prod' } });
    const sub = await createZone('sub.example.com', { tags: { team: 'a', env: 'dev' } });
    const org = await createZone('other.org', { tags: { team: 'b' } });
    const internal = await createZone('internal.example.com', { private: true });
    const names = async (options: Route53ProviderOptions['zoneFilter']) =>
      (await provider({ zoneFilter: options }).zones()).map((z) => z.name).sort();

    expect(await names(undefined)).toEqual([
      'example.com',
      'internal.example.com',
      'other.org',
      'sub.example.com',
    ]);
    expect(await names({ domains: ['example.com'] })).toEqual([
      'example.com',
      'internal.example.com',
      'sub.example.com',
    ]);
    // A zone that contains the domain holds its records: it matches too.
    expect(await names({ domains: ['app.sub.example.com.'] })).toEqual([
      'example.com',
      'sub.example.com',
    ]);
    expect(await names({ domains: ['example.com'], excludeDomains: ['sub.example.com'] })).toEqual([
      'example.com',
      'internal.example.com',
    ]);
    expect(await names({ zoneIds: [org.id, `/hostedzone/${sub.id}`] })).toEqual([
      'other.org',
      'sub.example.com',
    ]);
    expect(await names({ type: 'private' })).toEqual(['internal.example.com']);
    expect(await names({ type: 'public', domains: ['example.com'] })).toEqual([
      'example.com',
      'sub.example.com',
    ]);

    const tagged = provider({ zoneFilter: { tags: { team: 'a' } } });
    const zones = await tagged.zones();
    expect(zones.map((z) => z.id).sort()).toEqual([com.id, sub.id].sort());
    expect(zones.find((z) => z.id === com.id)).toEqual({
      id: com.id,
      name: 'example.com',
      private: false,
      tags: { team: 'a', env: 'prod' },
    });
    expect(tagged.stats.calls.ListTagsForResources).toBe(1);
    expect(await names({ tags: { team: 'a', env: 'dev' } })).toEqual(['sub.example.com']);
    expect(await names({ tags: { team: 'c' } })).toEqual([]);

    // No tag filter: no tag requests and no tags.
    const plain = provider();
    expect((await plain.zones()).every((z) => z.tags === undefined)).toBe(true);
    expect(plain.stats.calls.ListTagsForResources).toBeUndefined();
    expect(internal.name).toBe('internal.example.com');
  });

  it('finding 1: an empty zone id list filters nothing, as an unset --zone-id-filter', async () => {
    await createZone('example.com');
    await createZone('other.org');
    const names = async (zoneFilter: Route53ProviderOptions['zoneFilter']) =>
      (await provider({ zoneFilter }).zones()).map((z) => z.name).sort();
    // What the operator's flags give when none is set: every list empty.
    expect(await names({ domains: [], excludeDomains: [], zoneIds: [], tags: {} })).toEqual([
      'example.com',
      'other.org',
    ]);
  });

  it('pages through hosted zones and asks for tags 10 zones at a time', async () => {
    await Promise.all(
      Array.from({ length: 125 }, (_, i) =>
        createZone(`z${pad(i)}.example.net`, { tags: { even: String(i % 2 === 0) } }),
      ),
    );
    const p = provider({ zoneFilter: { tags: { even: 'true' } } });
    expect(await p.zones()).toHaveLength(63);
    expect(p.stats.calls.ListHostedZones).toBe(2);
    expect(p.stats.calls.ListTagsForResources).toBe(13);
  });
});

describe('records', () => {
  it('lists 1000+ record sets in pages of 300', async () => {
    const zone = await createZone('paged.test');
    const n = 1234;
    for (let start = 0; start < n; start += 1000) {
      const Changes = Array.from({ length: Math.min(1000, n - start) }, (_, j) => ({
        Action: 'CREATE' as const,
        ResourceRecordSet: {
          Name: `r${pad(start + j)}.paged.test.`,
          Type: 'A' as const,
          TTL: 60,
          ResourceRecords: [{ Value: '192.0.2.1' }],
        },
      }));
      await admin.send(
        new ChangeResourceRecordSetsCommand({ HostedZoneId: zone.id, ChangeBatch: { Changes } }),
      );
    }
    const p = provider();
    const records = await p.records(zone);
    const total = n + 2; // with the zone's SOA and NS
    expect(records).toHaveLength(total);
    expect(new Set(records.map(recordKey)).size).toBe(total);
    expect(records.filter((r) => r.type === 'SOA' || r.type === 'NS')).toHaveLength(2);
    expect(p.stats.calls.ListResourceRecordSets).toBe(Math.ceil(total / 300));
  });

  it('writes and reads alias records and awkward TXT, and replaces across types', async () => {
    const zone = await createZone('alias.test');
    const p = provider();
    const apex: RecordSet = {
      name: 'alias.test',
      type: 'A',
      ttl: ALIAS_TTL,
      values: [],
      alias: aliasFor('dualstack.web-1.eu-west-1.elb.amazonaws.com')!,
    };
    const text: RecordSet = {
      name: 'txt.alias.test',
      type: 'TXT',
      ttl: 60,
      values: ['say "hi" \\ o/', `${'é'.repeat(200)}`, ''],
    };
    const host: RecordSet = { name: 'www.alias.test', type: 'A', ttl: 60, values: ['192.0.2.1'] };
    const res = await p.apply(zone, [
      { action: 'create', record: apex },
      { action: 'create', record: text },
      { action: 'create', record: host },
    ]);
    expect(res.failed).toEqual([]);
    let state = await stateOf(zone);
    expect(state.get('alias.test/A')).toEqual(apex);
    expect(state.get('txt.alias.test/TXT')).toEqual(text);

    // A to CNAME (DELETE + CREATE in one call), then alias to plain A.
    const cname: RecordSet = { name: 'www.alias.test', type: 'CNAME', ttl: 60, values: ['t.x'] };
    const plain: RecordSet = { name: 'alias.test', type: 'A', ttl: 60, values: ['192.0.2.7'] };
    await p.records(zone);
    const calls = p.stats.changeCalls;
    const upd = await p.apply(zone, [
      { action: 'update', old: host, record: cname },
      { action: 'update', old: apex, record: plain },
    ]);
    expect(upd.failed).toEqual([]);
    expect(p.stats.changeCalls - calls).toBe(1);
    state = await stateOf(zone);
    expect(state.get('www.alias.test/CNAME')).toEqual(cname);
    expect(state.has('www.alias.test/A')).toBe(false);
    expect(state.get('alias.test/A')).toEqual(plain);

    const del = await p.apply(zone, [
      { action: 'delete', record: plain },
      { action: 'delete', record: cname },
      { action: 'delete', record: text },
    ]);
    expect(del.failed).toEqual([]);
    expect([...(await stateOf(zone)).keys()].sort()).toEqual(['alias.test/NS', 'alias.test/SOA']);
  });
  it('deletes a set spelled otherwise than it would write it, as Route53 holds it', async () => {
    const zone = await createZone('spelled.test');
    // Two strings are one text to the model, written back as one string; Route53 deletes
    // only the exact spelling it holds.
    await admin.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zone.id,
        ChangeBatch: {
          Changes: [
            {
              Action: 'CREATE',
              ResourceRecordSet: {
                Name: 'txt.spelled.test.',
                Type: 'TXT',
                TTL: 60,
                ResourceRecords: [{ Value: '"split " "in two"' }],
              },
            },
          ],
        },
      }),
    );
    const p = provider();
    const listed = (await p.records(zone)).find((r) => r.type === 'TXT')!;
    expect(listed).toEqual({
      name: 'txt.spelled.test',
      type: 'TXT',
      ttl: 60,
      values: ['split in two'],
    });
    const del = await p.apply(zone, [{ action: 'delete', record: listed }]);
    expect(del.failed).toEqual([]);
    expect((await listDirect(zone)).map((r) => r.Type).sort()).toEqual(['NS', 'SOA']);
  });
});

describe('apply', () => {
  it('applies 2500 records and their TXT in the fewest calls the quotas allow', async () => {
    const zone = await createZone('bulk.test');
    const n = 2500;
    const changes = Array.from({ length: n }, (_, i) => owned(i, zone.name)).flat();
    // Every group costs the same: 2 ResourceRecords and the characters of both values as sent.
    const [rec, own] = owned(0, zone.name).map((c) => c.record.values[0]!);
    const groupChars = rec!.length + own!.length + 2; // TXT quotes
    const perCall = Math.min(Math.floor(1000 / 2), Math.floor(32_000 / groupChars));
    const fewest = Math.ceil(n / perCall);

    const p = provider();
    const t0 = performance.now();
    const res = await p.apply(zone, changes);
    const applyMs = performance.now() - t0;
    expect(res.failed).toEqual([]);
    expect(res.applied).toHaveLength(2 * n);
    expect(p.stats.changeCalls).toBe(fewest);
    expect(p.stats.calls.ChangeResourceRecordSets).toBe(fewest);
    const state = await stateOf(zone);
    expect(state.size).toBe(2 * n + 2);
    expect(state.get(`a-svc-1234.${zone.name}/TXT`)?.values).toEqual([
      'heritage=chousei,chousei/owner=bench,chousei/resource=service/default/svc-1234',
    ]);

    // And away again: deletes carry the values exactly as listed.
    await p.records(zone);
    const t1 = performance.now();
    const gone = await p.apply(
      zone,
      changes.map((c) => ({ ...c, action: 'delete' as const })),
    );
    const deleteMs = performance.now() - t1;
    expect(gone.failed).toEqual([]);
    expect(p.stats.changeCalls).toBe(2 * fewest);
    expect((await stateOf(zone)).size).toBe(2);
    console.log(
      `route53: ${2 * n} changes (${n} groups, ${groupChars} chars each): ${fewest} calls ` +
        `(${perCall} groups per call); apply ${Math.round(applyMs)} ms, delete ${Math.round(deleteMs)} ms`,
    );
  });

  it('applies the good groups when one group of a batch is rejected', async () => {
    const zone = await createZone('reject.test');
    const p = provider();
    const rec = (name: string, type: RecordSet['type'] = 'A'): RecordSet => ({
      name: `${name}.${zone.name}`,
      type,
      ttl: 300,
      values: type === 'TXT' ? ['owner'] : ['192.0.2.21'],
    });
    const res = await p.apply(zone, [
      { action: 'create', group: 'g1', record: rec('good1') },
      { action: 'create', group: 'g1', record: rec('a-good1', 'TXT') },
      // The bad group: a record that would land, and the delete of one that does not exist
      // (moto, like Route53, refuses the whole batch for it).
      { action: 'create', group: 'bad', record: rec('partial') },
      { action: 'delete', group: 'bad', record: rec('ghost') },
      { action: 'create', group: 'g2', record: rec('good2') },
      { action: 'create', record: rec('loose') },
    ]);
    expect(res.failed.map((f) => f.change.group)).toEqual(['bad', 'bad']);
    expect(res.failed[0]!.error).toBeInstanceOf(ProviderError);
    expect(res.failed[0]!.error.message).toContain('ghost.reject.test');
    expect(res.applied).toHaveLength(4);

    const state = await stateOf(zone);
    expect([...state.keys()].sort()).toEqual([
      'a-good1.reject.test/TXT',
      'good1.reject.test/A',
      'good2.reject.test/A',
      'loose.reject.test/A',
      'reject.test/NS',
      'reject.test/SOA',
    ]);
  });

  it('finds one bad group in a full batch by halving, not with a call per group', async () => {
    const zone = await createZone('halving.test');
    const p = provider();
    const changes = Array.from({ length: 300 }, (_, i) => owned(i, zone.name)).flat();
    const ghost: RecordSet = {
      name: `ghost.${zone.name}`,
      type: 'A',
      ttl: 300,
      values: ['192.0.2.9'],
    };
    changes.splice(137 * 2, 0, { action: 'delete', group: 'bad', record: ghost });
    const res = await p.apply(zone, changes);
    expect(res.failed.map((f) => f.change.group)).toEqual(['bad']);
    expect(res.applied).toHaveLength(600);
    expect((await stateOf(zone)).size).toBe(602);
    console.log(`route53: one bad group in 301: ${p.stats.calls.ChangeResourceRecordSets} calls`);
    // One refused call, then two per halving (301 groups down to 3), then 3 one by one.
    expect(p.stats.calls.ChangeResourceRecordSets).toBeLessThanOrEqual(20);
  });

  it('isolates the group Route53 refuses with InvalidChangeBatch (CNAME beside an A)', async () => {
    // moto accepts a CNAME beside an A; Route53 refuses the whole batch. The proxy answers
    // such a batch as Route53 does, in both forms of the error it uses.
    const zone = await createZone('conflict.test');
    const conflict = 'taken.conflict.test.';
    const bodies = [
      '<?xml version="1.0"?>\n<InvalidChangeBatch xmlns="https://route53.amazonaws.com/doc/2013-04-01/">' +
        `<Messages><Message>RRSet of type CNAME with DNS name ${conflict} is not permitted because a ` +
        'conflicting RRSet of type  A with the same DNS name already exists in zone conflict.test.' +
        '</Message></Messages><RequestId>r-1</RequestId></InvalidChangeBatch>',
      '<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">' +
        '<Error><Type>Sender</Type><Code>InvalidChangeBatch</Code><Message>[RRSet of type CNAME with ' +
        `DNS name ${conflict} is not permitted because a conflicting RRSet of type  A with the same ` +
        'DNS name already exists in zone conflict.test.]</Message></Error><RequestId>r-2</RequestId>' +
        '</ErrorResponse>',
    ];
    for (const [i, body] of bodies.entries()) {
      const proxy = await startFaultProxy(moto.endpoint, (req) =>
        req.operation === 'ChangeResourceRecordSets' &&
        req.body.includes(`<Name>${conflict}</Name><Type>CNAME`)
          ? { status: 400, contentType: 'text/xml', body }
          : undefined,
      );
      try {
        const p = provider({ endpoint: proxy.endpoint });
        const at = (n: string) => `${n}${i}.${zone.name}`;
        const a = (name: string): RecordSet => ({
          name,
          type: 'A',
          ttl: 300,
          values: ['192.0.2.1'],
        });
        if (i === 0) await p.apply(zone, [{ action: 'create', record: a('taken.conflict.test') }]);
        const res = await p.apply(zone, [
          { action: 'create', group: 'g1', record: a(at('good')) },
          {
            action: 'create',
            group: 'g1',
            record: { ...a(at('a-good')), type: 'TXT', values: ['o'] },
          },
          {
            action: 'create',
            group: 'bad',
            record: {
              name: 'taken.conflict.test',
              type: 'CNAME',
              ttl: 300,
              values: ['x.example.net'],
            },
          },
          { action: 'create', group: 'g2', record: a(at('good2')) },
        ]);
        expect(res.failed.map((f) => f.change.group)).toEqual(['bad']);
        expect(res.failed[0]!.error).toMatchObject({
          code: 'InvalidChangeBatch',
          retryable: false,
        });
        expect(res.failed[0]!.error.message).toContain('conflicting RRSet of type  A');
        expect(res.applied.map((c) => c.group).sort()).toEqual(['g1', 'g1', 'g2']);
        const state = await stateOf(zone);
        for (const key of [`${at('good')}/A`, `${at('a-good')}/TXT`, `${at('good2')}/A`]) {
          expect(state.has(key), key).toBe(true);
        }
        expect(state.has('taken.conflict.test/CNAME')).toBe(false);
      } finally {
        await proxy.close();
      }
    }
  });

  it('backs off on Throttling and 5xx and converges with no lost or duplicate change', async () => {
    const zone = await createZone('faults.test');
    let changeRequests = 0;
    const proxy = await startFaultProxy(moto.endpoint, (req) => {
      if (req.n < 6) return THROTTLING; // a throttled start, whatever the operation
      if (req.operation !== 'ChangeResourceRecordSets')
        return req.n % 5 === 0 ? UNAVAILABLE : undefined;
      changeRequests++;
      if (changeRequests === 2) return { ...UNAVAILABLE, afterForward: true }; // landed, reply lost
      if (changeRequests % 3 === 0) return THROTTLING;
      if (changeRequests % 4 === 0) return UNAVAILABLE;
      return undefined;
    });
    try {
      const p = provider({ endpoint: proxy.endpoint, backoff: { initialMs: 20, maxMs: 200 } });
      expect((await p.zones()).map((z) => z.id)).toEqual([zone.id]);
      const changes = Array.from({ length: 1200 }, (_, i) => owned(i, zone.name)).flat();
      const res = await p.apply(zone, changes);
      expect(res.failed).toEqual([]);
      expect(new Set(res.applied).size).toBe(changes.length);
      expect(res.applied).toHaveLength(changes.length);

      const state = await stateOf(zone); // throws on a set listed twice
      expect(state.size).toBe(changes.length + 2);
      for (const c of changes) expect(state.get(recordKey(c.record))).toEqual(c.record);
      expect(p.stats.throttled).toBeGreaterThanOrEqual(6);
      expect(p.stats.retries).toBeGreaterThanOrEqual(8);
      expect(proxy.seen.filter((r) => r.fault === 400).length).toBeGreaterThanOrEqual(6);
      expect(proxy.seen.filter((r) => r.fault === 503).length).toBeGreaterThanOrEqual(2);
      // The batch whose reply was lost had landed: moto refused its resend as a duplicate
      // CREATE, and the provider found it in the zone instead of reporting it failed.
      const changeCalls = proxy.seen.filter((r) => r.operation === 'ChangeResourceRecordSets');
      expect(changeCalls.filter((r) => r.fault === 503 && r.upstream === 200)).toHaveLength(1);
      expect(changeCalls.filter((r) => !r.fault && r.upstream === 400)).toHaveLength(1);
      const metrics = await metricsRegistry.getSingleMetricAsString(
        'chousei_dns_provider_requests_total',
      );
      expect(metrics).toMatch(
        /provider="route53",operation="ChangeResourceRecordSets",result="throttled"} [1-9]/,
      );
      expect(metrics).toMatch(/operation="ListHostedZones",result="success"} [1-9]/);
    } finally {
      await proxy.close();
    }
  });

  it('throws a retryable ProviderError when the service stays unavailable', async () => {
    const zone = await createZone('down.test');
    const proxy = await startFaultProxy(moto.endpoint, () => UNAVAILABLE);
    try {
      const p = provider({ endpoint: proxy.endpoint, maxRetries: 2, backoff: { initialMs: 10 } });
      const err = await p.apply(zone, owned(1, zone.name)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ProviderError);
      expect((err as ProviderError).retryable).toBe(true);
      expect(proxy.seen).toHaveLength(3);
      await expect(p.records(zone)).rejects.toMatchObject({ provider: 'route53', retryable: true });
    } finally {
      await proxy.close();
    }
    expect((await stateOf(zone)).size).toBe(2);
  });
});

describe('cancellation', () => {
  it('stops waiting for a stalled Route53 once its signal aborts: no retry, no hang', async () => {
    const zone = await createZone('stalled.test');
    // Holds every change: no answer, no error, as a stalled service.
    const proxy = await startFaultProxy(moto.endpoint, (req) =>
      req.operation === 'ChangeResourceRecordSets' ? new Promise(() => {}) : undefined,
    );
    try {
      const p = provider({ endpoint: proxy.endpoint });
      const started = Date.now();
      const reason = new Error('shutting down');
      const stop = new AbortController();
      setTimeout(() => stop.abort(reason), 200);
      await expect(p.apply(zone, owned(1, zone.name), stop.signal)).rejects.toBe(reason);
      expect(Date.now() - started).toBeLessThan(2000);
      // A read given up before it starts is not sent at all.
      await expect(p.records(zone, AbortSignal.abort(reason))).rejects.toBe(reason);
    } finally {
      await proxy.close();
    }
  });
});

describe('rate limit', () => {
  it('holds 5 requests/s across provider instances', async () => {
    await createZone('rate.test');
    const one = provider();
    const two = provider();
    expect(sharedLimiter()).toBe(sharedLimiter({ qps: 5, burst: 5 }));
    await new Promise((r) => setTimeout(r, 1100)); // let the bucket refill after other tests
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 15 }, (_, i) => (i % 2 ? one : two).zones()));
    const elapsed = performance.now() - t0;
    expect((one.stats.calls.ListHostedZones ?? 0) + (two.stats.calls.ListHostedZones ?? 0)).toBe(
      15,
    );
    // A burst of 5, then 10 more at 5/s.
    expect(elapsed).toBeGreaterThanOrEqual(1950);
    expect(elapsed).toBeLessThan(3500);
    console.log(`route53: 15 requests from two instances took ${Math.round(elapsed)} ms`);
  });
});
