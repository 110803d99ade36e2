import type { ResourceRecordSet } from '@aws-sdk/client-route-53';
import { describe, expect, it } from 'vitest';
import { batchChanges, ProviderError, valueChars } from '../src/provider/provider.js';
import { classify, toProviderError } from '../src/provider/route53/errors.js';
import {
  ALIAS_TTL,
  aliasFor,
  escapeName,
  fromRoute53,
  packBatches,
  quoteTxt,
  ROUTE53_LIMITS,
  Route53Provider,
  route53Aliases,
  toRoute53,
  toRoute53Changes,
  unescapeName,
  unquoteTxt,
  wireCost,
} from '../src/provider/route53/index.js';
import type { Change, RecordSet } from '../src/records.js';

const a = (name: string, ...values: string[]): RecordSet => ({
  name,
  type: 'A',
  ttl: 300,
  values: values.length ? values : ['192.0.2.1'],
});
const txt = (name: string, value: string): RecordSet => ({
  name,
  type: 'TXT',
  ttl: 300,
  values: [value],
});
const toWire = (c: Change) => toRoute53Changes(c);
const caps = new Route53Provider({ region: 'us-east-1' }).capabilities;

describe('names', () => {
  it('reads Route53 escapes, case and trailing dots into the model form', () => {
    expect(unescapeName('\\052.example.com.')).toBe('*.example.com');
    expect(unescapeName('WWW.Example.COM.')).toBe('www.example.com');
    expect(unescapeName('a\\040b.example.com.')).toBe('a b.example.com');
    expect(unescapeName('\\303\\251t\\303\\251.example.com.')).toBe('été.example.com');
    expect(unescapeName('x\\.y.example.com')).toBe('x.y.example.com');
  });

  it('writes absolute, lower-case names with octal escapes for what Route53 rejects raw', () => {
    expect(escapeName('*.Example.com')).toBe('*.example.com.');
    expect(escapeName('_acme-challenge.example.com')).toBe('_acme-challenge.example.com.');
    expect(escapeName('a b.example.com')).toBe('a\\040b.example.com.');
    expect(escapeName('été.example.com')).toBe('\\303\\251t\\303\\251.example.com.');
    for (const n of ['*.example.com', 'a b.example.com', 'été.example.com', 'a/b.example.com']) {
      expect(unescapeName(escapeName(n))).toBe(n);
    }
  });
});

describe('TXT', () => {
  it('quotes and escapes', () => {
    expect(quoteTxt('hello world')).toBe('"hello world"');
    expect(quoteTxt('')).toBe('""');
    expect(quoteTxt('say "hi" \\o/')).toBe('"say \\"hi\\" \\\\o/"');
    expect(quoteTxt('héllo\n')).toBe('"h\\303\\251llo\\012"');
  });

  it('splits a long value into 255-byte strings and joins them back', () => {
    const long = 'x'.repeat(600);
    const quoted = quoteTxt(long);
    expect(quoted).toBe(`"${'x'.repeat(255)}" "${'x'.repeat(255)}" "${'x'.repeat(90)}"`);
    expect(unquoteTxt(quoted)).toBe(long);
  });

  it('splits by bytes, and a character cut by the split comes back whole', () => {
    const value = `${'a'.repeat(254)}é${'b'.repeat(10)}`;
    const quoted = quoteTxt(value);
    expect(quoted.startsWith(`"${'a'.repeat(254)}\\303" "\\251b`)).toBe(true);
    expect(unquoteTxt(quoted)).toBe(value);
  });

  it('reads what Route53 and other tools write', () => {
    expect(unquoteTxt('"abc" "def"')).toBe('abcdef');
    expect(unquoteTxt('"v=spf1 include:_spf.example.com ~all"')).toBe(
      'v=spf1 include:_spf.example.com ~all',
    );
    expect(unquoteTxt('"a \\"quoted\\" \\\\ word"')).toBe('a "quoted" \\ word');
    expect(unquoteTxt('unquoted')).toBe('unquoted');
    expect(unquoteTxt('"caf\\303\\251"')).toBe('café');
  });

  it('round-trips awkward values', () => {
    for (const v of [
      'heritage=chousei,chousei/owner=default,chousei/resource=ingress/ns/name',
      '"',
      '\\',
      '\\"\\',
      ' leading and trailing ',
      'tab\there',
      '日本語'.repeat(100),
      'k=v;'.repeat(200),
    ]) {
      expect(unquoteTxt(quoteTxt(v))).toBe(v);
    }
  });
});

describe('record sets', () => {
  it('reads every managed type from its Route53 form', () => {
    const read = (rr: ResourceRecordSet) => fromRoute53(rr);
    const values = (...vs: string[]) => vs.map((Value) => ({ Value }));
    expect(
      read({ Name: 'txt.example.com.', Type: 'TXT', TTL: 60, ResourceRecords: values('"a" "b"') }),
    ).toEqual({ name: 'txt.example.com', type: 'TXT', ttl: 60, values: ['ab'] });
    expect(
      read({ Name: 'c.example.com.', Type: 'CNAME', TTL: 60, ResourceRecords: values('lb.x.') }),
    ).toMatchObject({ values: ['lb.x'] });
    expect(
      read({ Name: 'example.com.', Type: 'MX', TTL: 60, ResourceRecords: values('10 mx.x.') }),
    ).toMatchObject({ values: ['10 mx.x'] });
    expect(
      read({
        Name: '_h._tcp.example.com.',
        Type: 'SRV',
        TTL: 60,
        ResourceRecords: values('10 5 443 svc.x.'),
      }),
    ).toMatchObject({ values: ['10 5 443 svc.x'] });
    expect(
      read({
        Name: '\\052.example.com.',
        Type: 'A',
        TTL: 60,
        ResourceRecords: values('192.0.2.1'),
      }),
    ).toMatchObject({ name: '*.example.com', values: ['192.0.2.1'] });
    expect(
      read({
        Name: 'example.com.',
        Type: 'SOA',
        TTL: 900,
        ResourceRecords: values(
          'ns-1.awsdns-1.com. hostmaster.example.com. 1 7200 900 1209600 86400',
        ),
      }),
    ).toMatchObject({ type: 'SOA' });
  });

  it('skips what the model cannot hold: routing policies and unknown types', () => {
    const rr = { Name: 'w.example.com.', Type: 'A' as const, TTL: 60, ResourceRecords: [] };
    expect(fromRoute53({ ...rr, SetIdentifier: 'blue', Weight: 10 })).toBeUndefined();
    expect(fromRoute53({ ...rr, Type: 'CAA' })).toBeUndefined();
  });

  it('writes names and targets absolute, TXT quoted', () => {
    expect(toRoute53(txt('T.example.com', 'say "hi"'))).toEqual({
      Name: 't.example.com.',
      Type: 'TXT',
      TTL: 300,
      ResourceRecords: [{ Value: '"say \\"hi\\""' }],
    });
    const mx: RecordSet = { name: 'example.com', type: 'MX', ttl: 300, values: ['10 mail.x'] };
    expect(toRoute53(mx).ResourceRecords).toEqual([{ Value: '10 mail.x.' }]);
    const cname: RecordSet = { name: 'c.example.com', type: 'CNAME', ttl: 300, values: ['t.x'] };
    expect(toRoute53(cname).ResourceRecords).toEqual([{ Value: 't.x.' }]);
    for (const r of [mx, cname, txt('t.example.com', `${'z'.repeat(300)}"é`)]) {
      expect(fromRoute53(toRoute53(r))).toEqual(r);
    }
  });

  it('writes and reads alias records', () => {
    const target = aliasFor('dualstack.My-ALB-123.eu-west-1.elb.amazonaws.com.');
    expect(target).toEqual({
      hostedZoneId: 'Z32O12XQLNTSW2',
      dnsName: 'dualstack.my-alb-123.eu-west-1.elb.amazonaws.com',
      evaluateTargetHealth: true,
    });
    const record: RecordSet = {
      name: 'example.com',
      type: 'A',
      ttl: ALIAS_TTL,
      values: [],
      alias: target!,
    };
    const rr = toRoute53(record);
    expect(rr).toEqual({
      Name: 'example.com.',
      Type: 'A',
      AliasTarget: {
        HostedZoneId: 'Z32O12XQLNTSW2',
        DNSName: 'dualstack.my-alb-123.eu-west-1.elb.amazonaws.com.',
        EvaluateTargetHealth: true,
      },
    });
    expect(fromRoute53(rr)).toEqual(record);
  });
});

describe('aliasFor', () => {
  it('knows ALB/CLB and NLB hostnames by region', () => {
    expect(aliasFor('internal-app-1.us-east-1.elb.amazonaws.com')?.hostedZoneId).toBe(
      'Z35SXDOTRQ7X7K',
    );
    expect(aliasFor('web-0123456789abcdef.elb.us-east-1.amazonaws.com')?.hostedZoneId).toBe(
      'Z26RNL4JYFTOTI',
    );
    expect(aliasFor('web-1.elb.eu-central-1.amazonaws.com', false)).toEqual({
      hostedZoneId: 'Z3F0SRJ5LGBH90',
      dnsName: 'web-1.elb.eu-central-1.amazonaws.com',
      evaluateTargetHealth: false,
    });
    expect(aliasFor('app-1.cn-north-1.elb.amazonaws.com.cn')?.hostedZoneId).toBe('Z1GDH35T77C1KE');
  });

  it('leaves everything else to a CNAME', () => {
    expect(aliasFor('example.com')).toBeUndefined();
    expect(aliasFor('elb.amazonaws.com')).toBeUndefined();
    expect(aliasFor('app.xx-nowhere-1.elb.amazonaws.com')).toBeUndefined();
    // S3 website endpoints are not in external-dns v0.22's table either.
    expect(aliasFor('bucket.s3-website-us-east-1.amazonaws.com')).toBeUndefined();
  });
});

describe('difference 2: alias records as external-dns v0.22 makes them', () => {
  const zone = { id: 'Z0ZONE', name: 'example.com' };
  // external-dns v0.22 provider/aws/aws.go canonicalHostedZones, one of each kind.
  it.each([
    ['ALB/CLB', 'dualstack.web-1.eu-west-1.elb.amazonaws.com', 'Z32O12XQLNTSW2'],
    ['NLB', 'web-1.elb.ap-southeast-6.amazonaws.com', 'Z01392953RKV2Q3RBP0KU'],
    ['CloudFront', 'd111111abcdef8.cloudfront.net', 'Z2FDTNDATAQYW2'],
    ['API Gateway (regional)', 'abc123.execute-api.eu-west-1.amazonaws.com', 'ZLY8HYME6SFDD'],
    ['Global Accelerator', 'a1234567890abcdef.awsglobalaccelerator.com', 'Z2BJ6XQ5FK7U4H'],
    ['VPC endpoint', 'vpce-1-abc.vpce-svc-1.us-east-1.vpce.amazonaws.com', 'Z7HUB22UULQXV'],
  ])('makes an A and an AAAA alias of a CNAME to %s by default', (_kind, target, id) => {
    expect(route53Aliases()(target, undefined, zone)).toEqual({
      types: ['A', 'AAAA'],
      target: { hostedZoneId: id, dnsName: target, evaluateTargetHealth: true },
    });
  });

  it('keeps CNAMEs to other targets, and every CNAME with --aws-prefer-cname', () => {
    const target = 'web-1.us-east-1.elb.amazonaws.com';
    expect(route53Aliases()('www.example.net', undefined, zone)).toBeUndefined();
    expect(route53Aliases({ preferCname: true })(target, undefined, zone)).toBeUndefined();
    expect(route53Aliases()(target, false, zone)).toBeUndefined();
  });

  it('makes what an endpoint asks for: one type, an alias despite prefer-cname, in-zone targets', () => {
    const target = 'web-1.us-east-1.elb.amazonaws.com';
    const preferCname = route53Aliases({ preferCname: true, evaluateTargetHealth: false });
    expect(preferCname(target, 'AAAA', zone)).toEqual({
      types: ['AAAA'],
      target: { hostedZoneId: 'Z35SXDOTRQ7X7K', dnsName: target, evaluateTargetHealth: false },
    });
    expect(route53Aliases()('apex-target.example.com', true, zone)?.target.hostedZoneId).toBe(
      'Z0ZONE',
    );
    // external-dns would send an alias into its own zone for a target elsewhere: Route53 refuses.
    expect(route53Aliases()('www.example.net', true, zone)).toBeUndefined();
  });
});

describe('changes', () => {
  it('maps create, delete and update to CREATE, DELETE and UPSERT', () => {
    const old = a('x.example.com', '192.0.2.1');
    const record = a('x.example.com', '192.0.2.2');
    expect(toWire({ action: 'create', record }).map((c) => c.Action)).toEqual(['CREATE']);
    expect(toWire({ action: 'delete', record }).map((c) => c.Action)).toEqual(['DELETE']);
    const upsert = toWire({ action: 'update', old, record });
    expect(upsert).toEqual([{ Action: 'UPSERT', ResourceRecordSet: toRoute53(record) }]);
  });

  it('replaces with DELETE + CREATE when the type or alias-ness changes', () => {
    const old = a('x.example.com');
    const cname: RecordSet = { name: 'x.example.com', type: 'CNAME', ttl: 300, values: ['t.x'] };
    expect(toWire({ action: 'update', old, record: cname }).map((c) => c.Action)).toEqual([
      'DELETE',
      'CREATE',
    ]);
    const alias = { ...old, values: [], alias: aliasFor('lb-1.elb.us-west-2.amazonaws.com')! };
    expect(toWire({ action: 'update', old, record: alias }).map((c) => c.Action)).toEqual([
      'DELETE',
      'CREATE',
    ]);
  });

  it('deletes with the exact set it is given', () => {
    const record = a('x.example.com');
    const listed = { ...toRoute53(record), Name: 'X.example.com.' };
    const [del] = toRoute53Changes({ action: 'delete', record }, () => listed);
    expect(del?.ResourceRecordSet).toBe(listed);
  });
});

describe('batching', () => {
  const creates = (n: number, rec: (i: number) => RecordSet = (i) => a(`r${i}.example.com`)) =>
    Array.from({ length: n }, (_, i): Change => ({ action: 'create', record: rec(i) }));
  const sizes = (changes: Change[]) =>
    packBatches(changes, toWire).map((b) => b.groups.reduce((n, g) => n + g.changes.length, 0));

  it('puts up to 1000 changes in a call', () => {
    expect(sizes(creates(1000))).toEqual([1000]);
    expect(sizes(creates(2500))).toEqual([1000, 1000, 500]);
  });

  it('counts ResourceRecord elements, not changes', () => {
    const three = creates(400, (i) =>
      a(`r${i}.example.com`, '192.0.2.1', '192.0.2.2', '192.0.2.3'),
    );
    expect(sizes(three)).toEqual([333, 67]);
  });

  it('counts an update twice', () => {
    const updates = Array.from(
      { length: 501 },
      (_, i): Change => ({
        action: 'update',
        old: a(`u${i}.example.com`, '192.0.2.1'),
        record: a(`u${i}.example.com`, '192.0.2.2'),
      }),
    );
    expect(sizes(updates)).toEqual([500, 1]);
    expect(wireCost(toWire(updates[0]!)[0]!)).toEqual({ records: 2, chars: 18 });
  });

  it('keeps the characters sent, TXT quotes included, within 32000', () => {
    // 248 characters are 250 once quoted: 128 to a call, where the model's count says 129.
    // batchChanges counts with the provider's own cost, so both agree.
    const short = creates(129, (i) => txt(`t${i}.example.com`, 'x'.repeat(248)));
    expect(batchChanges(short, caps).map((b) => b.length)).toEqual([128, 1]);
    expect(sizes(short)).toEqual([128, 1]);
    // 1000 characters are four strings on the wire (1011 characters): 31, not the 32 the
    // model's count would allow.
    const long = creates(64, (i) => txt(`t${i}.example.com`, 'x'.repeat(1000)));
    expect(batchChanges(long, caps).map((b) => b.length)).toEqual([31, 31, 2]);
    expect(sizes(long)).toEqual([31, 31, 2]);
    for (const b of packBatches(long, toWire)) {
      const wire = b.groups.flatMap((g) => g.wire).map(wireCost);
      expect(wire.reduce((n, c) => n + c.chars, 0)).toBeLessThanOrEqual(ROUTE53_LIMITS.chars);
    }
  });

  it('never splits a group, and stays within what batchChanges allows', () => {
    const grouped = Array.from({ length: 700 }, (_, i): Change[] => [
      { action: 'create', group: `g${i}`, record: a(`g${i}.example.com`) },
      { action: 'create', group: `g${i}`, record: txt(`a-g${i}.example.com`, `owner=${i}`) },
      { action: 'delete', group: `g${i}`, record: a(`old${i}.example.com`) },
    ]).flat();
    const batches = packBatches(grouped, toWire);
    expect(batches.map((b) => b.groups.length)).toEqual([333, 333, 34]);
    for (const b of batches) {
      for (const g of b.groups) {
        expect(new Set(g.changes.map((c) => c.group)).size).toBe(1);
        expect(g.changes).toHaveLength(3);
      }
      const changes = b.groups.flatMap((g) => g.changes);
      expect(changes.length).toBeLessThanOrEqual(caps.maxChangesPerCall);
      expect(changes.reduce((n, c) => n + valueChars(c), 0)).toBeLessThanOrEqual(32_000);
    }
    // For one-value records without quoting, the wire count is the model's.
    const simple = creates(2345);
    expect(packBatches(simple, toWire).map((b) => b.groups.flatMap((g) => g.changes))).toEqual(
      batchChanges(simple, caps),
    );
  });

  it('sends a group too big for any call alone', () => {
    const huge = Array.from(
      { length: 1001 },
      (_, i): Change => ({
        action: 'create',
        group: 'huge',
        record: a(`h${i}.example.com`),
      }),
    );
    expect(sizes([...creates(1), ...huge, ...creates(1)])).toEqual([1, 1001, 1]);
  });
});

describe('errors', () => {
  const sdkError = (name: string, status?: number, extra: object = {}) =>
    Object.assign(new Error(`${name} happened`), {
      name,
      $metadata: status === undefined ? {} : { httpStatusCode: status },
      ...extra,
    });

  it('retries throttling, 5xx and the network; not what the content caused', () => {
    expect(classify(sdkError('Throttling', 400))).toMatchObject({
      code: 'Throttling',
      throttled: true,
      retryable: true,
      maybeApplied: false,
    });
    expect(classify(sdkError('PriorRequestNotComplete', 400))).toMatchObject({ retryable: true });
    expect(classify(sdkError('Unknown', 503))).toMatchObject({
      retryable: true,
      maybeApplied: true,
    });
    expect(classify(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toMatchObject({
      retryable: true,
      maybeApplied: false,
    });
    expect(classify(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toMatchObject({
      retryable: true,
      maybeApplied: true,
    });
    expect(classify(sdkError('AccessDenied', 403))).toMatchObject({ retryable: false });
    expect(classify(sdkError('NoSuchHostedZone', 404))).toMatchObject({ retryable: false });
  });

  it("reads InvalidChangeBatch's messages in both of Route53's forms", () => {
    const modeled = sdkError('InvalidChangeBatch', 400, { messages: ['m1', 'm2'] });
    expect(classify(modeled)).toMatchObject({ code: 'InvalidChangeBatch', message: 'm1; m2' });
    const unparsed = sdkError('Unknown', 400, { Messages: { Message: 'only one' } });
    expect(classify(unparsed)).toMatchObject({ code: 'InvalidChangeBatch', message: 'only one' });
    const err = toProviderError(unparsed);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({
      provider: 'route53',
      code: 'InvalidChangeBatch',
      retryable: false,
    });
  });
});
