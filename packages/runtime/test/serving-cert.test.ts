import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/client/client.js';
import {
  MutatingWebhookConfigurations,
  Secrets,
  ValidatingWebhookConfigurations,
} from '../src/client/resource.js';
import { silentLogger } from '../src/log/logger.js';
import { waitFor } from '../src/testing/index.js';
import { issueCertificate, pairProblems, type ServingPair, splitPem } from '../src/webhook/pki.js';
import { ServingCert } from '../src/webhook/serving-cert.js';

const DAY = 86_400_000;
const at = (days: number) => new Date(Date.now() + days * DAY);
const names = ['hook.ops.svc', 'hook.ops.svc.cluster.local'];
/** A CA `ageMs` old, living `lifetimeMs` in all. */
const backdatedCA = (ageMs: number, lifetimeMs: number, commonName = 'test CA') =>
  issueCertificate({
    commonName,
    notBefore: new Date(Date.now() - ageMs),
    notAfter: new Date(Date.now() - ageMs + lifetimeMs),
  });
/** A pair as ServingCert makes one: a 10-year CA (unless given) and a 1-year leaf. */
const servingPair = (ca = backdatedCA(0, 3650 * DAY), dnsNames = names): ServingPair => ({
  ca,
  leaf: issueCertificate({ dnsNames, notBefore: at(0), notAfter: at(365), issuer: ca }),
});
const text = (data: Record<string, string> | undefined, key: string) =>
  Buffer.from(data?.[key] ?? '', 'base64').toString('utf8');

describe('webhook serving pki', () => {
  it('writes serials in minimal DER: 1000 leaves all parse (one in 256 had a padding byte)', () => {
    const ca = backdatedCA(0, 3650 * DAY);
    for (let i = 0; i < 1000; i++) {
      const leaf = issueCertificate({
        dnsNames: names,
        notBefore: at(0),
        notAfter: at(1),
        issuer: ca,
      });
      const serial = new X509Certificate(leaf.cert).serialNumber;
      expect(serial).toMatch(/^[4-7][0-9A-F]{31}$/);
    }
  });

  it('issues a CA and a leaf for DNS names that verifies against it, due at two thirds of its life', () => {
    const ca = issueCertificate({ commonName: 'test CA', notBefore: at(0), notAfter: at(30) });
    const leaf = issueCertificate({
      dnsNames: ['hooks.ops.svc'],
      notBefore: at(0),
      notAfter: at(3),
      issuer: ca,
    });
    const cert = new X509Certificate(leaf.cert);
    expect(cert.checkIssued(new X509Certificate(ca.cert))).toBe(true);
    expect(cert.subjectAltName).toBe('DNS:hooks.ops.svc');
    expect(new X509Certificate(ca.cert).ca).toBe(true);
    const pair = { ca, leaf };
    expect(pairProblems(pair, ['hooks.ops.svc'], at(0))).toEqual({});
    expect(pairProblems(pair, ['other.ops.svc'], at(0))).toEqual({
      leaf: 'tls.crt is for hooks.ops.svc, not other.ops.svc',
    });
    expect(pairProblems(pair, ['hooks.ops.svc'], at(2.1)).leaf).toMatch(
      /^tls.crt is due for renewal/,
    );
    const stranger = issueCertificate({
      commonName: 'test CA',
      notBefore: at(0),
      notAfter: at(30),
    });
    expect(pairProblems({ ca: stranger, leaf }, ['hooks.ops.svc'], at(0))).toEqual({
      leaf: 'tls.crt does not verify against ca.crt: it was not signed by ca.crt',
    });
    expect(pairProblems({ ca: leaf, leaf }, ['hooks.ops.svc'], at(0)).ca).toBe(
      'ca.crt is not a CA',
    );
    expect(pairProblems({ ca: { cert: ca.cert, key: leaf.key }, leaf }, [], at(0)).ca).toBe(
      'ca.key does not belong to ca.crt',
    );
  });

  it('ends a leaf with the CA that signs it', () => {
    const ca = backdatedCA(0, DAY);
    const leaf = issueCertificate({
      dnsNames: names,
      notBefore: at(0),
      notAfter: at(365),
      issuer: ca,
    });
    expect(new X509Certificate(leaf.cert).validTo).toBe(new X509Certificate(ca.cert).validTo);
  });
});

// Moved from the cert-operator, whose own ServingCert this one replaced.
describe('serving key pairs', () => {
  it('are due at two thirds of life: the leaf alone, or the CA behind its successor', () => {
    const pair = servingPair();
    expect(pairProblems(pair, names, at(0))).toEqual({});
    expect(pairProblems(pair, names, at(250)).leaf).toMatch(
      /^tls\.crt is due for renewal: it expires at/,
    );
    expect(pairProblems(pair, names, at(250)).ca).toBeUndefined();
    // The CA is only due; the leaf it signed a year after it has expired long since.
    expect(pairProblems(pair, names, at(2440))).toEqual({
      ca: expect.stringMatching(/^the CA is due for renewal: it expires at/),
      caDue: true,
      leaf: expect.stringMatching(/^tls\.crt does not verify against ca\.crt: .* expired/),
    });
    expect(pairProblems(pair, names, at(3651)).leaf).toMatch(/^the CA is due for renewal/);
  });

  it('replace a CA that is due behind its successor, its leaf serving until then', () => {
    const old = servingPair(backdatedCA(3500 * DAY, 3650 * DAY, 'an earlier webhook CA'));
    expect(pairProblems(old, names, at(0))).toEqual({
      ca: expect.stringMatching(/^the CA is due for renewal/),
      caDue: true,
    });
    // The successor signs and comes first; the leaf is from the previous CA, and still sound.
    const next = servingPair();
    const rotating = { ca: { ...next.ca, cert: next.ca.cert + old.ca.cert }, leaf: old.leaf };
    expect(pairProblems(rotating, names, at(0))).toEqual({
      leaf: 'tls.crt was signed by a previous CA',
      leafServes: true,
      leafFromPreviousCA: true,
    });
    const done = { ca: rotating.ca, leaf: servingPair(next.ca).leaf };
    expect(splitPem(done.ca.cert)).toEqual([next.ca.cert, old.ca.cert]);
    expect(pairProblems(done, names, at(0))).toEqual({});
    // Once the previous CA expired, it is only dead weight in ca.crt.
    expect(pairProblems(done, names, at(200))).toEqual({});
  });

  it('are replaced when names, keys or parts are wrong', () => {
    const pair = servingPair();
    const renewed = servingPair(pair.ca);
    expect(pairProblems(pair, ['other.ops.svc', 'other.ops.svc.cluster.local'], at(0))).toEqual({
      leaf: 'tls.crt is for hook.ops.svc, hook.ops.svc.cluster.local, not other.ops.svc, other.ops.svc.cluster.local',
    });
    expect(
      pairProblems({ ...pair, leaf: { ...pair.leaf, key: renewed.leaf.key } }, names, at(0)),
    ).toEqual({
      leaf: 'tls.key does not belong to tls.crt',
    });
    expect(pairProblems({ ...pair, leaf: { ...pair.leaf, cert: '' } }, names, at(0))).toEqual({
      leaf: 'the Secret has no tls.crt',
    });
    expect(pairProblems({ ...pair, ca: { ...pair.ca, key: '' } }, names, at(0)).ca).toBe(
      'the Secret has no ca.key',
    );
    const strange = servingPair();
    expect(
      pairProblems({ ...pair, ca: { ...pair.ca, cert: strange.ca.cert } }, names, at(0)).ca,
    ).toBe('ca.key does not belong to ca.crt');
    expect(pairProblems({ ca: strange.ca, leaf: pair.leaf }, names, at(0))).toEqual({
      leaf: expect.stringMatching(/^tls\.crt does not verify against ca\.crt/),
    });
  });
});

const TRUST_DELAY_MS = 3000;

describe('issue 12: ServingCert, behind a real kube-apiserver', () => {
  const name = `serving-${Math.random().toString(36).slice(2, 8)}`;
  let client: Client;
  let ns: string;
  const stops: AbortController[] = [];
  const certs: ServingCert[] = [];

  beforeAll(async () => {
    const cluster = await sharedCluster();
    client = new Client(cluster.kubeConfig);
    ns = await cluster.createNamespace('serving');
    const webhook = {
      name: 'hook.example.com',
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      clientConfig: { url: 'https://127.0.0.1:1/never-called' },
      // Matches nothing: the configurations are only carriers of a caBundle here.
      rules: [
        {
          apiGroups: ['example.com'],
          apiVersions: ['v1'],
          operations: ['CREATE'],
          resources: ['nothing'],
        },
      ],
    };
    await client.create(MutatingWebhookConfigurations, { metadata: { name }, webhooks: [webhook] });
    await client.create(ValidatingWebhookConfigurations, {
      metadata: { name },
      webhooks: [webhook],
    });
  });
  afterAll(async () => {
    for (const s of stops) s.abort();
    await client.delete(MutatingWebhookConfigurations, { name });
    await client.delete(ValidatingWebhookConfigurations, { name });
  });

  const replica = () => {
    const cert = new ServingCert({
      client,
      namespace: ns,
      secretName: 'hooks-tls',
      serviceName: 'hooks',
      webhookConfigurations: [
        { kind: 'MutatingWebhookConfiguration', name },
        { kind: 'ValidatingWebhookConfiguration', name },
      ],
      checkIntervalMs: 60_000,
      caTrustDelayMs: TRUST_DELAY_MS,
      logger: silentLogger,
    });
    const stop = new AbortController();
    stops.push(stop);
    certs.push(cert);
    void cert.run(stop.signal);
    return { cert, ready: cert.whenReady(stop.signal) };
  };
  const secret = () => client.get(Secrets, { namespace: ns, name: 'hooks-tls' });
  const caBundles = async () =>
    [
      ...((await client.get(MutatingWebhookConfigurations, { name })).webhooks ?? []),
      ...((await client.get(ValidatingWebhookConfigurations, { name })).webhooks ?? []),
    ].map((w) => w.clientConfig.caBundle);

  it('keeps one pair for every replica: the Secret, the files, the caBundle of both kinds', async () => {
    const first = replica();
    await first.ready;
    const stored = await secret();
    const ca = stored.data?.['ca.crt'];
    await waitFor(async () => (await caBundles()).every((b) => b === ca));
    const tlsCrt = Buffer.from(stored.data?.['tls.crt'] ?? '', 'base64').toString();
    expect(await readFile(join(first.cert.certDir, 'tls.crt'), 'utf8')).toBe(tlsCrt);
    expect(new X509Certificate(tlsCrt).subjectAltName).toBe(
      `DNS:hooks.${ns}.svc, DNS:hooks.${ns}.svc.cluster.local`,
    );
    // A 10-year ECDSA P-256 CA and a 1-year leaf for serverAuth.
    const caCert = new X509Certificate(text(stored.data, 'ca.crt'));
    expect(caCert.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    expect((new Date(caCert.validTo).getTime() - Date.now()) / DAY).toBeCloseTo(3650, 0);
    expect(
      (new Date(new X509Certificate(tlsCrt).validTo).getTime() - Date.now()) / DAY,
    ).toBeCloseTo(365, 0);
    expect(new X509Certificate(tlsCrt).keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);

    // A second replica serves the same pair and writes nothing.
    const second = replica();
    await second.ready;
    expect(await readFile(join(second.cert.certDir, 'tls.crt'), 'utf8')).toBe(tlsCrt);
    expect((await secret()).metadata?.resourceVersion).toBe(stored.metadata?.resourceVersion);
  });

  it('makes a new pair when the Secret is deleted, and the files and caBundles follow', async () => {
    const before = await secret();
    await client.delete(Secrets, { namespace: ns, name: 'hooks-tls' });
    const after = await waitFor(async () => {
      const s = await secret().catch(() => undefined);
      return s && s.metadata?.uid !== before.metadata?.uid && s;
    });
    const ca = after.data?.['ca.crt'];
    expect(ca).not.toBe(before.data?.['ca.crt']);
    await waitFor(async () => (await caBundles()).every((b) => b === ca));
  });

  /** Replaces the Secret's data with `pair`, as someone restoring an older Secret would. */
  const store = async (pair: ServingPair) => {
    const current = await secret();
    await client.update(Secrets, {
      ...current,
      data: {
        'ca.crt': Buffer.from(pair.ca.cert).toString('base64'),
        'ca.key': Buffer.from(pair.ca.key).toString('base64'),
        'tls.crt': Buffer.from(pair.leaf.cert).toString('base64'),
        'tls.key': Buffer.from(pair.leaf.key).toString('base64'),
      },
    });
  };
  const signs = (ca: string, leaf: string) =>
    new X509Certificate(leaf).verify(new X509Certificate(ca).publicKey);

  it('replaces a due CA behind its successor: the old leaf serves until every caBundle has held the new CA for the trust delay', async () => {
    const old = servingPair(backdatedCA(3500 * DAY, 3650 * DAY, 'an earlier webhook CA'), [
      `hooks.${ns}.svc`,
      `hooks.${ns}.svc.cluster.local`,
    ]);
    await store(old);
    // The successor goes in front in ca.crt and in every caBundle; the leaf stays.
    const rotating = await waitFor(async () => {
      const s = await secret();
      return splitPem(text(s.data, 'ca.crt')).length === 2 && s;
    });
    const [next, previous] = splitPem(text(rotating.data, 'ca.crt'));
    expect(previous).toBe(old.ca.cert);
    expect(text(rotating.data, 'tls.crt')).toBe(old.leaf.cert);
    await waitFor(async () => (await caBundles()).every((b) => b === rotating.data?.['ca.crt']));
    // Then a leaf from the successor, no sooner than the trust delay after it was made.
    const done = await waitFor(async () => {
      const s = await secret();
      return text(s.data, 'tls.crt') !== old.leaf.cert && s;
    });
    const leaf = new X509Certificate(text(done.data, 'tls.crt'));
    expect(signs(next!, text(done.data, 'tls.crt'))).toBe(true);
    const issuedAfterCA =
      new Date(leaf.validFrom).getTime() - new Date(new X509Certificate(next!).validFrom).getTime();
    expect(issuedAfterCA).toBeGreaterThanOrEqual(TRUST_DELAY_MS - 1000);
    // The old CA stays trusted until it expires.
    expect(text(done.data, 'ca.crt')).toBe(text(rotating.data, 'ca.crt'));
    for (const cert of certs) {
      await waitFor(
        async () =>
          (await readFile(join(cert.certDir, 'tls.crt'), 'utf8')) === text(done.data, 'tls.crt'),
      );
    }
  });

  it('replaces an unusable CA and its leaf at once', async () => {
    const current = await secret();
    const stranger = servingPair();
    const unusable = {
      ca: { cert: text(current.data, 'ca.crt'), key: stranger.ca.key },
      leaf: { cert: text(current.data, 'tls.crt'), key: text(current.data, 'tls.key') },
    };
    await store(unusable);
    const replaced = await waitFor(async () => {
      const s = await secret();
      return text(s.data, 'ca.key') !== stranger.ca.key && s;
    });
    const cas = splitPem(text(replaced.data, 'ca.crt'));
    expect(cas).toHaveLength(1);
    expect(text(replaced.data, 'ca.crt')).not.toContain(splitPem(unusable.ca.cert)[0]);
    expect(signs(cas[0]!, text(replaced.data, 'tls.crt'))).toBe(true);
    await waitFor(async () => (await caBundles()).every((b) => b === replaced.data?.['ca.crt']));
  });
});
