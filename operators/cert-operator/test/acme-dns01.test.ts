import { X509Certificate } from 'node:crypto';
import { InMemoryProvider, ProviderError, RFC2136Provider, type Zone } from '@chousei/dns';
import { metricsRegistry, silentLogger, sleep } from '@chousei/runtime';
import {
  type Bind9,
  type DnsResponder,
  type Pebble,
  startBind9,
  startDnsResponder,
  startPebble,
} from '@chousei/testenv';
import * as acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IssuanceError, type IssuanceProgress } from '../src/issuance.js';
import { ACMEIssuer } from '../src/issuers/acme/index.js';
import type { CertificateRequest, IssueContext } from '../src/issuers/issuer.js';
import { soaZoneFinder } from '../src/solvers/dns01/zone.js';
import { type Challenge, DNS01Solver, type Solver } from '../src/solvers/index.js';

async function requestFor(names: string[]): Promise<CertificateRequest> {
  const key = await acme.crypto.createPrivateEcdsaKey();
  const [, csr] = await acme.crypto.createCsr({ commonName: names[0], altNames: names }, key);
  return {
    certificate: 'default/wild',
    commonName: names[0],
    dnsNames: names,
    ipAddresses: [],
    durationMs: 90 * 24 * 3600_000,
    usages: ['digital signature', 'key encipherment', 'server auth'],
    privateKeyPem: key.toString(),
    csrPem: csr.toString(),
  };
}

function context(): IssueContext {
  return { signal: AbortSignal.timeout(55_000), log: silentLogger, save: async () => {} };
}

/** Sum of the DNS provider request counter over series matching any of `selectors`. */
async function dnsRequests(...selectors: Array<Record<string, string>>): Promise<number> {
  const metric = metricsRegistry.getSingleMetric('chousei_dns_provider_requests_total');
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) =>
      selectors.some((sel) => Object.entries(sel).every(([k, w]) => v.labels[k] === w)),
    )
    .reduce((n, v) => n + v.value, 0);
}

/** An ACMEIssuer on Pebble, answering every challenge with `solver`. */
function issuerOn(pebble: Pebble, accountKeyPem: string, solver: Solver): ACMEIssuer {
  return new ACMEIssuer({
    directoryUrl: pebble.directoryUrl,
    caPem: pebble.tlsCaPem,
    accountKeyPem,
    solverFor: () => solver,
    pollIntervalMs: 100,
  });
}

const FOREIGN = '"another-client-value"';
const UNRELATED = '"keep me"';

describe('ACMEIssuer with DNS-01 against Pebble and BIND9', () => {
  let bind: Bind9;
  let pebble: Pebble;
  let provider: RFC2136Provider;
  let solver: DNS01Solver;
  let accountKeyPem: string;

  const issuerFor = (s: Solver) => issuerOn(pebble, accountKeyPem, s);

  beforeAll(async () => {
    bind = await startBind9({
      records: {
        // Another client's value in the very set we write to, and an unrelated TXT record.
        'example.test': [`_acme-challenge 300 IN TXT ${FOREIGN}`, `info 300 IN TXT ${UNRELATED}`],
      },
    });
    provider = new RFC2136Provider({
      host: bind.host,
      port: bind.port,
      zones: bind.zones,
      tsig: bind.tsig,
    });
    solver = new DNS01Solver({
      provider,
      nameservers: [{ host: bind.host, port: bind.port }],
      pollIntervalMs: 200,
    });
    pebble = await startPebble({ dnsServer: bind.address });
    accountKeyPem = (await acme.crypto.createPrivateEcdsaKey()).toString();
  });

  afterAll(async () => {
    await pebble?.stop();
    await bind?.stop();
  });

  it('issues for a name, its wildcard and a subdomain at once, and removes only its values', async () => {
    // Holds both presents for example.test (the base name and the wildcard share
    // _acme-challenge.example.test) until both are in, then looks at the set.
    const shared: Challenge[] = [];
    let bothIn: () => void = () => {};
    const together = new Promise<void>((resolve) => {
      bothIn = resolve;
    });
    let seenTogether: string[] = [];
    const watching: Solver = {
      type: 'dns-01',
      present: async (ch) => {
        await solver.present(ch);
        if (ch.identifier !== 'example.test') return;
        shared.push(ch);
        if (shared.length === 2) {
          seenTogether = await bind.dig('_acme-challenge.example.test', 'TXT');
          bothIn();
        }
        await together;
      },
      cleanUp: (ch) => solver.cleanUp(ch),
    };

    const names = ['example.test', '*.example.test', 'a.example.test'];
    const started = performance.now();
    const issued = await issuerFor(watching).issue(await requestFor(names), context());
    console.log(
      `DNS-01 order for 3 names (2 on one TXT set), end to end: ${(performance.now() - started).toFixed(0)} ms`,
    );

    expect(shared).toHaveLength(2);
    expect(shared[0]!.keyAuthorization).not.toBe(shared[1]!.keyAuthorization);
    expect(seenTogether.sort()).toEqual(
      [FOREIGN, ...shared.map((c) => `"${c.keyAuthorization}"`)].sort(),
    );

    const certs = acme.crypto
      .splitPemChain(issued.certificatePem)
      .map((p) => new X509Certificate(p));
    const root = new X509Certificate(await pebble.rootCertificate());
    for (const [i, cert] of certs.entries()) {
      const issuer = certs[i + 1] ?? root;
      expect(cert.checkIssued(issuer)).toBe(true);
      expect(cert.verify(issuer.publicKey)).toBe(true);
    }
    for (const n of names) expect(certs[0]!.subjectAltName).toContain(`DNS:${n}`);

    // Our values are gone; the other client's value and the unrelated record are not.
    expect(await bind.dig('_acme-challenge.example.test', 'TXT')).toEqual([FOREIGN]);
    expect(await bind.dig('_acme-challenge.a.example.test', 'TXT')).toEqual([]);
    expect(await bind.dig('info.example.test', 'TXT')).toEqual([UNRELATED]);
  });

  it('keeps every value when several solvers write the same set at once', async () => {
    // Two solvers (two operator replicas, say) share no lock: the provider's
    // prerequisites on the old values turn lost updates into refusals, which they retry.
    const solvers = [0, 1].map(
      () => new DNS01Solver({ provider, selfCheck: false, nameservers: [] }),
    );
    const challenges = Array.from({ length: 6 }, (_, i) => ({
      identifier: 'race.example.test',
      token: `t${i}`,
      keyAuthorization: `value-${i}`,
    }));
    const refused = () =>
      dnsRequests(
        { operation: 'update', result: 'YXRRSET' },
        { operation: 'update', result: 'NXRRSET' },
      );
    const refusedBefore = await refused();
    await Promise.all(challenges.map((ch, i) => solvers[i % 2]!.present(ch)));
    console.log(
      `concurrent TXT writes refused by BIND and retried: ${(await refused()) - refusedBefore}`,
    );
    expect((await bind.dig('_acme-challenge.race.example.test', 'TXT')).sort()).toEqual(
      challenges.map((c) => `"${c.keyAuthorization}"`).sort(),
    );
    await Promise.all(challenges.slice(1).map((ch, i) => solvers[i % 2]!.cleanUp(ch)));
    expect(await bind.dig('_acme-challenge.race.example.test', 'TXT')).toEqual(['"value-0"']);
    await solvers[0]!.cleanUp(challenges[0]!);
    expect(await bind.dig('_acme-challenge.race.example.test', 'TXT')).toEqual([]);
    expect(await bind.dig('_acme-challenge.example.test', 'TXT')).toEqual([FOREIGN]);
  });

  it('answers 50 challenges at once on one zone, BIND9 at its default transfer limit', async () => {
    // cert-manager's scale: 50 issuances at once. A read of the zone per challenge (AXFR) met
    // BIND9's transfers-out limit (10) and SERVFAIL; a single value needs no read.
    const solver50 = new DNS01Solver({ provider, selfCheck: false, nameservers: [] });
    const challenges = Array.from({ length: 50 }, (_, i) => ({
      identifier: `c${i}.scale.example.test`,
      token: `s${i}`,
      keyAuthorization: `scale-${i}`,
    }));
    const transfers = () => dnsRequests({ operation: 'axfr' });
    const before = await transfers();
    await Promise.all(challenges.map((ch) => solver50.present(ch)));
    for (const ch of challenges) {
      expect(await bind.dig(`_acme-challenge.${ch.identifier}`, 'TXT')).toEqual([
        `"${ch.keyAuthorization}"`,
      ]);
    }
    await Promise.all(challenges.map((ch) => solver50.cleanUp(ch)));
    for (const ch of challenges.slice(0, 5))
      expect(await bind.dig(`_acme-challenge.${ch.identifier}`, 'TXT')).toEqual([]);
    console.log(
      `50 challenges presented and cleaned up with ${(await transfers()) - before} zone reads`,
    );
  });

  it('times out the self-check when no nameserver answers the value, and cleans up', async () => {
    // The provider writes to a zone the nameserver does not serve: it never answers.
    const nowhere = new InMemoryProvider(['unserved.test']);
    const stuck = new DNS01Solver({
      provider: nowhere,
      nameservers: [{ host: bind.host, port: bind.port }],
      propagationTimeoutMs: 1500,
      pollIntervalMs: 250,
    });
    const started = performance.now();
    const reports: IssuanceProgress[] = [];
    const err = await issuerFor(stuck)
      .issue(await requestFor(['www.unserved.test']), {
        ...context(),
        progress: (r) => reports.push(r),
      })
      .catch((e: unknown) => e);
    // While it waited it said so, once (the answer did not change), naming the record.
    expect(reports).toEqual([
      expect.objectContaining({
        subject: 'www.unserved.test',
        reason: 'SelfCheckPending',
        message: expect.stringMatching(
          /^DNS-01 self-check: TXT _acme-challenge\.www\.unserved\.test not answered yet by /,
        ),
      }),
    ]);
    expect(err).toBeInstanceOf(IssuanceError);
    expect(err).toMatchObject({ reason: 'PropagationTimeout', retryable: true });
    expect((err as Error).message).toContain(`${bind.host}:${bind.port}`);
    expect((err as Error).message).toContain('_acme-challenge.www.unserved.test');
    expect(performance.now() - started).toBeLessThan(10_000);
    // Clean-up ran although present failed.
    const [zone] = await nowhere.zones();
    expect(await nowhere.records(zone!)).toEqual([]);
  });

  it('refuses a name outside every zone of the provider', async () => {
    const ch = { identifier: 'www.elsewhere.test', token: 't', keyAuthorization: 'v' };
    await expect(solver.present(ch)).rejects.toMatchObject({
      reason: 'NoDNSZone',
      retryable: false,
    });
  });
});

describe('DNS01Solver with cnameStrategy Follow, against BIND9 and Pebble', () => {
  let bind: Bind9;
  let pebble: Pebble;
  let solver: DNS01Solver;
  const challenge = (identifier: string, keyAuthorization: string): Challenge => ({
    identifier,
    token: 't',
    keyAuthorization,
  });

  beforeAll(async () => {
    // A validation zone the names delegate their challenges to, through two CNAMEs for one.
    bind = await startBind9({
      // Pebble resolves through it, following CNAMEs as a CA's resolver does.
      followCnames: true,
      zones: ['example.test', 'validation.test'],
      records: {
        'example.test': [
          '_acme-challenge.alias 300 IN CNAME hop.example.test.',
          'hop 300 IN CNAME alias.validation.test.',
          '_acme-challenge.loop 300 IN CNAME loop.example.test.',
          'loop 300 IN CNAME _acme-challenge.loop.example.test.',
        ],
      },
    });
    const server = { host: bind.host, port: bind.port };
    // As the Issuer builder makes it: the zone of where the CNAMEs lead, found by SOA.
    solver = new DNS01Solver({
      provider: new RFC2136Provider({ ...server, tsig: bind.tsig }),
      findZone: soaZoneFinder(server),
      nameservers: [server],
      followCname: { nameservers: [server] },
      pollIntervalMs: 200,
    });
    pebble = await startPebble({ dnsServer: bind.address });
  });
  afterAll(async () => {
    await pebble?.stop();
    await bind?.stop();
  });

  it('gets a certificate Pebble validated through the CNAME', async () => {
    const accountKeyPem = (await acme.crypto.createPrivateEcdsaKey()).toString();
    const issuer = issuerOn(pebble, accountKeyPem, solver);
    const issued = await issuer.issue(await requestFor(['alias.example.test']), context());
    const leaf = new X509Certificate(acme.crypto.splitPemChain(issued.certificatePem)[0]!);
    expect(leaf.subjectAltName).toBe('DNS:alias.example.test');
    expect(await bind.dig('alias.validation.test', 'TXT')).toEqual([]);
  });

  it('writes the TXT where the CNAMEs lead, checks it there, and removes it there', async () => {
    const ch = challenge('alias.example.test', 'delegated-value');
    await solver.present(ch);
    expect(await bind.dig('alias.validation.test', 'TXT')).toEqual(['"delegated-value"']);
    await solver.cleanUp(ch);
    expect(await bind.dig('alias.validation.test', 'TXT')).toEqual([]);
    // The CNAMEs are the user's: untouched.
    expect(await bind.dig('_acme-challenge.alias.example.test', 'CNAME')).toEqual([
      'hop.example.test.',
    ]);
  });

  it('writes at _acme-challenge.NAME when there is no CNAME', async () => {
    const ch = challenge('plain.example.test', 'plain-value');
    await solver.present(ch);
    expect(await bind.dig('_acme-challenge.plain.example.test', 'TXT')).toEqual(['"plain-value"']);
    await solver.cleanUp(ch);
    expect(await bind.dig('_acme-challenge.plain.example.test', 'TXT')).toEqual([]);
  });

  it('refuses a CNAME loop, naming the chain', async () => {
    const err = await solver.present(challenge('loop.example.test', 'x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IssuanceError);
    expect((err as IssuanceError).reason).toBe('DNSLookupFailed');
    expect((err as IssuanceError).retryable).toBe(false);
    expect((err as Error).message).toBe(
      'the CNAMEs from _acme-challenge.loop.example.test loop or go on too long: _acme-challenge.loop.example.test -> loop.example.test -> _acme-challenge.loop.example.test',
    );
  });
});

// No Issuer names the in-memory provider (it lives in the process): its solver is used as is.
describe('ACMEIssuer with DNS-01 through the in-memory provider (Pebble asks a DNS server answering from it)', () => {
  let provider: InMemoryProvider;
  let responder: DnsResponder;
  let pebble: Pebble;
  beforeAll(async () => {
    provider = new InMemoryProvider(['example.test']);
    const [zone] = await provider.zones();
    responder = await startDnsResponder(async (name, type) => {
      const sets = await provider.records(zone!);
      if (!sets.some((r) => r.name === name)) return undefined;
      return sets.find((r) => r.name === name && r.type === type)?.values ?? [];
    });
    pebble = await startPebble({ dnsServer: responder.address });
  });
  afterAll(async () => {
    await pebble?.stop();
    await responder?.stop();
  });

  it('issues a name and its wildcard, self-checked at that server, and removes the values', async () => {
    const solver = new DNS01Solver({
      provider,
      nameservers: [{ host: responder.host, port: responder.port }],
      pollIntervalMs: 100,
    });
    const names = ['mem.example.test', '*.mem.example.test'];
    const accountKeyPem = (await acme.crypto.createPrivateEcdsaKey()).toString();
    const issued = await issuerOn(pebble, accountKeyPem, solver).issue(
      await requestFor(names),
      context(),
    );
    const [leaf, ...chain] = acme.crypto
      .splitPemChain(issued.certificatePem)
      .map((p) => new X509Certificate(p));
    const root = new X509Certificate(await pebble.rootCertificate());
    expect(leaf!.verify((chain[0] ?? root).publicKey)).toBe(true);
    for (const n of names) expect(leaf!.subjectAltName).toContain(`DNS:${n}`);
    const [zone] = await provider.zones();
    expect(await provider.records(zone!)).toEqual([]);
  });
});

describe('DNS01Solver on a provider that must read the zone to write a value', () => {
  it('shares zone reads between challenges at once and retries a transient refusal', async () => {
    // As the in-memory provider, but no single-value edits and a read takes a round trip:
    // reads counted, the first refused as a server at its transfer limit refuses (SERVFAIL).
    const inner = new InMemoryProvider(['example.test']);
    let reads = 0;
    const provider = {
      name: inner.name,
      capabilities: inner.capabilities,
      zones: () => inner.zones(),
      apply: (...args: Parameters<InMemoryProvider['apply']>) => inner.apply(...args),
      records: async (zone: Zone) => {
        await sleep(20);
        if (reads++ === 0) throw new ProviderError('refused', 'test', 'SERVFAIL', true);
        return inner.records(zone);
      },
    };
    const solver = new DNS01Solver({ provider, selfCheck: false });
    const challenges = Array.from({ length: 50 }, (_, i) => ({
      identifier: `c${i}.example.test`,
      token: `t${i}`,
      keyAuthorization: `v${i}`,
    }));
    await Promise.all(challenges.map((ch) => solver.present(ch)));
    const [zone] = await inner.zones();
    const sets = await inner.records(zone!);
    for (const ch of challenges) {
      expect(sets.find((r) => r.name === `_acme-challenge.${ch.identifier}`)?.values).toEqual([
        ch.keyAuthorization,
      ]);
    }
    // A few reads serve them all (one per challenge without sharing: 51).
    expect(reads).toBeLessThanOrEqual(10);
  });
});
