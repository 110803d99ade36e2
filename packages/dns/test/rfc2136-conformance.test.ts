import { type Bind9, startBind9, type TsigAlgorithm } from '@chousei/testenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { providerConformance } from '../src/provider/conformance.js';
import { RFC2136Provider } from '../src/provider/rfc2136/index.js';
import type { RecordSet } from '../src/records.js';

/** The character-strings of one TXT answer line (`"a" "b\"c"`), joined. */
function unquoteTxt(line: string): string {
  const bytes: number[] = [];
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '"') {
      quoted = !quoted;
    } else if (!quoted) {
      // Spaces between strings separate them; the record model joins them.
    } else if (ch === '\\') {
      const digits = /^\d{3}/.exec(line.slice(i + 1));
      if (digits) {
        bytes.push(Number(digits[0]));
        i += 3;
      } else {
        bytes.push(...Buffer.from(line[++i] ?? '', 'utf8'));
      }
    } else {
      bytes.push(...Buffer.from(ch, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

const stripDot = (name: string) => (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();

/** What BIND answers for a name and type, in the record model's form. */
async function digValues(bind: Bind9, name: string, type: RecordSet['type']) {
  const lines = await bind.dig(name, type);
  switch (type) {
    case 'TXT':
      return lines.map(unquoteTxt);
    case 'CNAME':
    case 'NS':
      return lines.map(stripDot);
    case 'MX':
    case 'SRV':
      return lines.map((l) => {
        const fields = l.split(/\s+/);
        return [...fields.slice(0, -1), stripDot(fields.at(-1)!)].join(' ');
      });
    default:
      return lines;
  }
}

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
