import { type Bind9, startBind9, type TsigAlgorithm } from '@chousei/testenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { providerConformance } from '../src/provider/conformance.js';
import { RFC2136Provider } from '../src/provider/rfc2136/index.js';
import type { RecordSet } from '../src/records.js';
import { digValues } from './dig.js';

async function start(algorithm: TsigAlgorithm) {
  const bind = await startBind9({ zones: ['example.test'], algorithm });
  const provider = new RFC2136Provider({
    host: bind.host,
    port: bind.port,
    zones: bind.zones,
    tsig: bind.tsig,
  });
  const [zone] = await provider.zones();
  return { bind, provider, zone: zone! };
}

providerConformance('rfc2136 (BIND9, hmac-sha256)', async () => {
  const { bind, provider, zone } = await start('hmac-sha256');
  return {
    provider,
    zone,
    lookup: (name: string, type: RecordSet['type']) => digValues(bind, name, type),
    stop: () => bind.stop(),
  };
});

describe('rfc2136 (BIND9, hmac-sha512)', () => {
  let t: Awaited<ReturnType<typeof start>>;
  let bind: Bind9;
  beforeAll(async () => {
    t = await start('hmac-sha512');
    bind = t.bind;
  });
  afterAll(() => bind?.stop());

  it('creates and reads back records', async () => {
    const records: RecordSet[] = [
      { name: 'www.example.test', type: 'A', ttl: 120, values: ['192.0.2.7'] },
      { name: 'www.example.test', type: 'TXT', ttl: 120, values: ['owner=chousei'] },
    ];
    const res = await t.provider.apply(
      t.zone,
      records.map((record) => ({ action: 'create', record, group: 'www' })),
    );
    expect(res.failed).toEqual([]);
    const got = await t.provider.records(t.zone);
    for (const r of records) expect(got).toContainEqual(r);
    expect(await digValues(bind, 'www.example.test', 'TXT')).toEqual(['owner=chousei']);
  });
});

describe("difference 7: TSIG with the peers' weak algorithms, against BIND9", () => {
  // external-dns takes hmac-sha1 and hmac-sha224; cert-manager signs with MD5 by default.
  it.each(['hmac-md5', 'hmac-sha1', 'hmac-sha224'] as const)(
    'updates and transfers the zone signed with %s',
    async (algorithm) => {
      const { bind, provider, zone } = await start(algorithm);
      try {
        const record: RecordSet = {
          name: 'weak.example.test',
          type: 'A',
          ttl: 60,
          values: ['192.0.2.7'],
        };
        const result = await provider.apply(zone, [{ action: 'create', record }]);
        expect(result.failed).toEqual([]);
        expect(await digValues(bind, 'weak.example.test', 'A')).toEqual(['192.0.2.7']);
        expect((await provider.records(zone)).find((r) => r.name === record.name)).toEqual(record);
      } finally {
        await bind.stop();
      }
    },
  );
});
