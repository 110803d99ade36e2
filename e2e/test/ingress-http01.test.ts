import {
  Certificates,
  inspectCertificate,
  keyMatchesCertificate,
  verifyChain,
} from '@chousei/cert-operator';
import { Events, Ingresses, Secrets } from '@chousei/runtime';
import { waitFor, waitForCondition } from '@chousei/runtime/testing';
import { describe, expect, it } from 'vitest';
import { certifiedIngress, expectPublished, recordsRemoved, text, useStack } from './world.ts';

describe('an Ingress asking for a DNS name and a certificate (HTTP-01)', () => {
  const world = useStack();
  let ns: string;
  let host: string;

  it("gets an A record from the dns-operator, and through it a certificate Pebble validated at the cert-operator's solver", async () => {
    const s = world();
    ns = await s.cluster.createNamespace('http01');
    host = `web.${s.zone}`;
    await s.client.create(Ingresses, certifiedIngress(ns, 'web', host, s.issuers.http01));
    // No load balancer yet, so no A record: the cert-operator's self-check holds the challenge
    // back and says why, rather than have Pebble fail it (and the Certificate back off).
    const waiting = await waitFor(
      async () => {
        const c = await s.client
          .get(Certificates, { namespace: ns, name: 'web-tls' })
          .catch(() => undefined);
        const issuing = c?.status?.conditions?.find((x) => x.type === 'Issuing');
        return issuing?.status === 'True' && issuing.message.includes('NXDOMAIN') && issuing;
      },
      { timeoutMs: 20_000, description: 'the self-check waiting for the A record' },
    );
    expect(waiting.message).toContain(`DNS NXDOMAIN for ${host}`);

    // The ingress controller's part: its load balancer, on this machine.
    await s.client.patchStatus(
      Ingresses,
      { namespace: ns, name: 'web' },
      { type: 'merge', patch: { status: { loadBalancer: { ingress: [{ ip: '127.0.0.1' }] } } } },
    );

    await expectPublished(s, host, `ingress/${ns}/web`);

    // The issuer has one solver, HTTP-01: Pebble found the solver through that A record. The
    // operator's self-check held the challenge back until the record was there, so the
    // first attempt succeeds (with the default back-off of an hour, nothing else would).
    const cert = await waitForCondition(
      s.client,
      Certificates,
      { namespace: ns, name: 'web-tls' },
      'Ready',
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    expect(cert.spec).toMatchObject({
      secretName: 'web-tls',
      dnsNames: [host],
      issuerRef: { name: s.issuers.http01, kind: 'ClusterIssuer' },
    });
    expect(cert.status?.failedIssuanceAttempts).toBeUndefined();
    expect(cert.status?.revision).toBe(1);
    // Events are written in the background: the last may trail the status.
    const events = await waitFor(
      async () => {
        const all = (await s.client.list(Events, { namespace: ns })).filter(
          (e) => e.regarding?.kind === 'Certificate' && e.regarding.name === 'web-tls',
        );
        const reasons = all.map((e) => e.reason);
        return (
          ['SelfCheckPending', 'SelfCheckPassed', 'Issued'].every((r) => reasons.includes(r)) && all
        );
      },
      { timeoutMs: 10_000, description: 'the self-check and Issued Events' },
    );
    expect(events.filter((e) => e.type === 'Warning')).toEqual([]);
    expect(cert.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Ingress', name: 'web', controller: true }),
    ]);

    const secret = await s.client.get(Secrets, { namespace: ns, name: 'web-tls' });
    expect(secret.type).toBe('kubernetes.io/tls');
    const chain = text(secret, 'tls.crt');
    expect(verifyChain(chain, await s.pebble.rootCertificate())).toEqual({ valid: true });
    const info = inspectCertificate(chain);
    expect(info.dnsNames).toEqual([host]);
    expect(info.issuer).toMatch(/Pebble Intermediate CA/);
    expect(keyMatchesCertificate(text(secret, 'tls.key'), chain)).toBe(true);
  });

  it('loses its records when deleted: A and ownership TXT (the dns-operator finalizer)', async () => {
    const s = world();
    await s.client.delete(Ingresses, { namespace: ns, name: 'web' });
    await recordsRemoved(s, host);
    await waitFor(async () => !(await s.client.list(Ingresses, { namespace: ns })).length, {
      timeoutMs: 10_000,
      description: 'the Ingress gone once its finalizer is',
    });
  });
});
