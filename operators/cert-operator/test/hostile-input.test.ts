// What a tenant who may write a Secret or an Issuer can make the operator do: neither stall
// it (finding 13) nor turn TSIG off with a blank secret (finding 14).
import { performance } from 'node:perf_hooks';
import { Client, Events, type Secret, Secrets } from '@chousei/runtime';
import { type RunningManager, waitFor, waitForCondition } from '@chousei/runtime/testing';
import { assertWithin, MiB } from '@chousei/testenv/hostile';
import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { CRDS } from '../src/api/crds.js';
import { Certificates, Issuers } from '../src/api/types.js';
import { MAX_SECRET_VALUE_BYTES } from '../src/controllers/secret.js';
import { inspectCertificate, PkiError, splitPem } from '../src/pki/index.js';
import { startCertOperator } from './operator.js';
import { secretText } from './secret-text.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** `bytes` of BEGIN lines without an END: what made the old PEM regex quadratic. */
const beginLines = (bytes: number) =>
  '-----BEGIN CERTIFICATE-----\n'.repeat(bytes / 28 + 1).slice(0, bytes);

describe('hostile Secrets and Issuers', () => {
  let client: Client;
  let ns: string;
  let running: RunningManager;
  let healthz: string;

  beforeAll(async () => {
    const cluster = await sharedCluster();
    await cluster.apply(CRDS);
    ns = await cluster.createNamespace('hostile');
    client = new Client(cluster.kubeConfig);
    const started = await startCertOperator(
      {
        clusterResourceNamespace: ns,
        http01SolverPort: 0,
        http01SolverHost: '127.0.0.1',
        backoff: { initialMs: 1000, maxMs: 4000 },
      },
      { manager: { healthProbePort: 0, bindAddress: '127.0.0.1' } },
    );
    running = started.running;
    healthz = `http://127.0.0.1:${started.manager.ports[0]}/healthz`;
    await client.create(Issuers, {
      metadata: { name: 'self', namespace: ns },
      spec: { selfSigned: {} },
    });
  });
  afterAll(() => running?.stop());

  const certificate = (name: string) =>
    client.create(Certificates, {
      metadata: { name, namespace: ns },
      spec: { secretName: `${name}-tls`, issuerRef: { name: 'self' }, dnsNames: [`${name}.test`] },
    });
  const ready = (name: string, revision: number) =>
    waitForCondition(client, Certificates, { namespace: ns, name }, 'Ready', {
      timeoutMs: 20_000,
      where: (c) => c.status?.revision === revision,
    });

  /**
   * Asks /healthz every 50 ms until stopped (at the latest when the test ends); resolves with
   * the slowest answer's time, infinite when one failed.
   */
  function probeHealth(): { stop: () => Promise<number> } {
    let slowest = 0;
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        const start = performance.now();
        const ok = await fetch(healthz).then(
          (res) => res.status === 200,
          () => false,
        );
        slowest = ok ? Math.max(slowest, performance.now() - start) : Number.POSITIVE_INFINITY;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const stop = async () => {
      stopped = true;
      await loop;
      return slowest;
    };
    onTestFinished(() => stop().then(() => undefined));
    return { stop };
  }

  it('finding 13: a 1 MiB tls.crt of BEGIN lines is split and refused within 50 ms', () => {
    const junk = beginLines(MiB);
    let start = performance.now();
    expect(splitPem(junk)).toEqual([]);
    assertWithin(performance.now() - start, 50, 'splitPem');
    start = performance.now();
    expect(() => inspectCertificate(junk)).toThrowError(PkiError);
    assertWithin(performance.now() - start, 50, 'inspectCertificate');
  });

  it('finding 13: a Certificate whose Secret holds a 1 MiB tls.crt: the operator stays responsive, says why and issues again', async () => {
    await certificate('victim');
    await ready('victim', 1);
    const secret = await client.get(Secrets, { namespace: ns, name: 'victim-tls' });
    // As large as the API server takes: its 1 MiB limit is on all values together.
    const others = Object.entries(secret.data ?? {})
      .filter(([k]) => k !== 'tls.crt')
      .reduce((n, [, v]) => n + Buffer.byteLength(v, 'base64'), 0);
    const junk = beginLines(MiB - others);

    const health = probeHealth();
    await client.patch(
      Secrets,
      { namespace: ns, name: 'victim-tls' },
      { type: 'merge', patch: { data: { 'tls.crt': b64(junk) } } },
    );
    // Meanwhile another Certificate is served as usual.
    await certificate('bystander');
    await ready('bystander', 1);
    const victim = await ready('victim', 2);
    const slowest = await health.stop();

    expect(slowest).toBeLessThan(2000);
    expect(
      inspectCertificate(secretText(await reissued('victim-tls'), 'tls.crt')).dnsNames,
    ).toEqual(['victim.test']);
    const note = `Issuing certificate: Secret ${ns}/victim-tls key "tls.crt" holds ${junk.length} bytes, over the limit of ${MAX_SECRET_VALUE_BYTES} (256 KiB) the operator reads`;
    const said = await waitFor(async () =>
      (await client.list(Events, { namespace: ns })).find(
        (e) => e.regarding?.uid === victim.metadata?.uid && e.note === note,
      ),
    );
    expect(said).toMatchObject({ type: 'Normal', reason: 'Issuing' });
  });

  /** The Secret once it holds a certificate again. */
  const reissued = (name: string) =>
    waitFor(async () => {
      const s = await client.get(Secrets, { namespace: ns, name });
      return secretText(s, 'tls.crt').startsWith('-----BEGIN CERTIFICATE-----\nMII') && s;
    });

  it('finding 13: a CA Issuer whose Secret holds a 1 MiB tls.crt is not ready, naming the field, Secret, key and limit', async () => {
    const junk = beginLines(MiB - 1024);
    await client.create(Secrets, {
      metadata: { name: 'big-ca', namespace: ns },
      type: 'Opaque',
      data: { 'tls.crt': b64(junk), 'tls.key': b64('-----BEGIN PRIVATE KEY-----\n') },
    } satisfies Secret);
    const health = probeHealth();
    await client.create(Issuers, {
      metadata: { name: 'big-ca', namespace: ns },
      spec: { ca: { secretName: 'big-ca' } },
    });
    const issuer = await waitForCondition(
      client,
      Issuers,
      { namespace: ns, name: 'big-ca' },
      'Ready',
      { status: 'False', timeoutMs: 20_000 },
    );
    expect(await health.stop()).toBeLessThan(2000);
    const ready = issuer.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready?.reason).toBe('SecretTooLarge');
    expect(ready?.message).toBe(
      `spec.ca.secretName: Secret ${ns}/big-ca key "tls.crt" holds ${junk.length} bytes, over the limit of ${MAX_SECRET_VALUE_BYTES} (256 KiB) the operator reads`,
    );
  });

  describe('finding 14: an RFC2136 solver without a usable TSIG secret', () => {
    const acmeIssuer = (name: string, rfc2136: Record<string, unknown>) =>
      client.create(Issuers, {
        metadata: { name, namespace: ns },
        spec: {
          acme: {
            // Never reached: the solvers are built, and refused, before the account is.
            server: 'https://127.0.0.1:9/directory',
            privateKeySecretRef: { name: `${name}-account` },
            solvers: [{ dns01: { rfc2136: { nameserver: '127.0.0.1:53', ...rfc2136 } } }],
          },
        },
      });
    const notReady = async (name: string) => {
      const issuer = await waitForCondition(client, Issuers, { namespace: ns, name }, 'Ready', {
        status: 'False',
        timeoutMs: 20_000,
      });
      return issuer.status?.conditions?.find((c) => c.type === 'Ready');
    };

    it('finding 14: a blank TSIG secret makes the Issuer Ready=False naming the field, not unsigned updates', async () => {
      await client.create(Secrets, {
        metadata: { name: 'tsig-blank', namespace: ns },
        type: 'Opaque',
        data: { secret: b64(' \n') },
      });
      await acmeIssuer('tsig-blank', {
        tsigKeyName: 'chousei',
        tsigSecretSecretRef: { name: 'tsig-blank', key: 'secret' },
      });
      expect(await notReady('tsig-blank')).toMatchObject({
        reason: 'BadConfig',
        message: `spec.acme.solvers[0].dns01.rfc2136.tsigSecretSecretRef: Secret ${ns}/tsig-blank key "secret" is blank (unsigned updates need no key at all)`,
      });
    });

    it('finding 14: a TSIG key name without a secret, or a secret without a name, is refused', async () => {
      await acmeIssuer('tsig-no-secret', { tsigKeyName: 'chousei' });
      expect(await notReady('tsig-no-secret')).toMatchObject({
        reason: 'BadConfig',
        message:
          'spec.acme.solvers[0].dns01.rfc2136.tsigSecretSecretRef: required with tsigKeyName',
      });
      await acmeIssuer('tsig-no-name', { tsigSecretSecretRef: { name: 'tsig-blank' } });
      expect(await notReady('tsig-no-name')).toMatchObject({
        reason: 'BadConfig',
        message:
          'spec.acme.solvers[0].dns01.rfc2136.tsigKeyName: required with tsigSecretSecretRef',
      });
    });
  });
});
