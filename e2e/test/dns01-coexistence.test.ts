import { Certificates, inspectCertificate, verifyChain } from '@chousei/cert-operator';
import { Ingresses, Secrets } from '@chousei/runtime';
import { waitFor, waitForCondition } from '@chousei/runtime/testing';
import { describe, expect, it } from 'vitest';
import { text, useStack } from './world.ts';

describe('DNS-01 in the zone the dns-operator manages (policy sync, full resync every second)', () => {
  const world = useStack({ dnsResyncInterval: '1s' });

  it("neither operator touches the other's records: the challenge TXT outlives resyncs, the A record and its ownership TXT outlive the challenge", async () => {
    const s = world();
    const ns = await s.cluster.createNamespace('dns01');
    const host = `app.${s.zone}`;
    const challenge = `_acme-challenge.${host}`;

    // The dns-operator's own records, for the very name the certificate is for.
    await s.client.create(Ingresses, {
      metadata: { name: 'app', namespace: ns },
      spec: { rules: [{ host }] },
    });
    await s.client.patchStatus(
      Ingresses,
      { namespace: ns, name: 'app' },
      { type: 'merge', patch: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.10' }] } } } },
    );
    const published = async () => ({
      a: await s.bind.dig(host, 'A'),
      owner: await s.bind.dig(`a-${host}`, 'TXT'),
    });
    const before = await waitFor(
      async () => {
        const r = await published();
        return r.a.length > 0 && r.owner.length > 0 && r;
      },
      { timeoutMs: 20_000, description: `A record and ownership TXT of ${host}` },
    );
    expect(before).toEqual({
      a: ['192.0.2.10'],
      owner: [
        `"heritage=external-dns,external-dns/owner=${s.ownerId},external-dns/resource=ingress/${ns}/app"`,
      ],
    });

    // The solver waits for its TXT to be visible before Pebble is asked to validate: holding
    // its lookups holds the issuance with the challenge published, as a slow nameserver would.
    s.dnsGate.hold((q) => q.type === 'TXT' && q.name.startsWith('_acme-challenge.'));
    await s.client.create(Certificates, {
      metadata: { name: 'app', namespace: ns },
      spec: {
        secretName: 'app-tls',
        issuerRef: { name: s.issuers.dns01, kind: 'ClusterIssuer' },
        // One TXT record set, two values: the wildcard's and the name's.
        dnsNames: [host, `*.${host}`],
      },
    });
    const values = await waitFor(
      async () => {
        const v = await s.bind.dig(challenge, 'TXT');
        return v.length === 2 && v.sort();
      },
      { timeoutMs: 30_000, description: `both challenge values at ${challenge}` },
    );

    // Meanwhile the dns-operator re-reads the zone and checks every name it owns, again and
    // again; the challenge TXT is there at every look.
    const resyncs = async () => {
      const m = /^chousei_dns_resync_duration_seconds_count(?:\{[^}]*\})? (\d+)$/m.exec(
        await s.dnsOperator.metrics(),
      );
      return Number(m?.[1]);
    };
    const first = await resyncs();
    const looks: string[][] = [];
    await waitFor(
      async () => {
        looks.push((await s.bind.dig(challenge, 'TXT')).sort());
        return (await resyncs()) >= first + 3;
      },
      { timeoutMs: 20_000, intervalMs: 200, description: 'three dns-operator resyncs' },
    );
    expect(looks.length).toBeGreaterThan(5);
    for (const look of looks) expect(look).toEqual(values);
    expect(await published()).toEqual(before);
    // Held all along: the solver asked for its value and the issuance went no further.
    expect(s.dnsGate.queries.some((q) => q.held && q.name === challenge)).toBe(true);
    const pending = await s.client.get(Certificates, { namespace: ns, name: 'app' });
    expect(pending.status?.conditions?.find((c) => c.type === 'Ready')?.status).not.toBe('True');

    s.dnsGate.release();
    await waitForCondition(s.client, Certificates, { namespace: ns, name: 'app' }, 'Ready', {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    const secret = await s.client.get(Secrets, { namespace: ns, name: 'app-tls' });
    const chain = text(secret, 'tls.crt');
    expect(verifyChain(chain, await s.pebble.rootCertificate())).toEqual({ valid: true });
    expect(inspectCertificate(chain).dnsNames.sort()).toEqual([`*.${host}`, host]);

    // The cert-operator removed its values and nothing else; a resync later, all is as before.
    await waitFor(async () => (await s.bind.dig(challenge, 'TXT')).length === 0, {
      timeoutMs: 10_000,
      description: `${challenge} removed`,
    });
    const after = await resyncs();
    await waitFor(async () => (await resyncs()) > after, { timeoutMs: 10_000 });
    expect(await published()).toEqual(before);
  });
});
