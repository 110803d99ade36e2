import { createPublicKey, webcrypto, X509Certificate } from 'node:crypto';
import { request } from 'node:http';
import { metricsRegistry, silentLogger } from '@chousei/runtime';
import { waitFor } from '@chousei/runtime/testing';
import { type Bind9, freePort, type Pebble, startBind9, startPebble } from '@chousei/testenv';
import { AuthorityKeyIdentifierExtension, X509CertificateGenerator } from '@peculiar/x509';
import * as acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IssuanceError } from '../src/issuance.js';
import { parseRetryAfter } from '../src/issuers/acme/http.js';
import { ACMEIssuer, ariCertId, parseRenewalInfo } from '../src/issuers/acme/index.js';
import type { CertificateRequest, IssuanceState, IssueContext } from '../src/issuers/issuer.js';
import { HTTP01Solver, type Solver } from '../src/solvers/index.js';

async function requestFor(names: string[]): Promise<CertificateRequest> {
  const key = await acme.crypto.createPrivateEcdsaKey();
  const [, csr] = await acme.crypto.createCsr({ commonName: names[0], altNames: names }, key);
  return {
    certificate: 'default/web',
    commonName: names[0],
    dnsNames: names,
    ipAddresses: [],
    durationMs: 90 * 24 * 3600_000,
    usages: ['digital signature', 'key encipherment', 'server auth'],
    privateKeyPem: key.toString(),
    csrPem: csr.toString(),
  };
}

/** An issue context that records what the issuer saves. */
function context(resume?: IssuanceState): { ctx: IssueContext; saved: IssuanceState[] } {
  const saved: IssuanceState[] = [];
  const ctx: IssueContext = {
    signal: AbortSignal.timeout(55_000),
    log: silentLogger,
    save: async (state) => {
      saved.push(state);
    },
    ...(resume ? { resume } : {}),
  };
  return { ctx, saved };
}

function httpStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sum of the ACME request counter over the series matching `labels`. */
async function acmeRequests(labels: Record<string, string>): Promise<number> {
  const metric = metricsRegistry.getSingleMetric('chousei_cert_acme_requests_total');
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((n, v) => n + v.value, 0);
}

/** Checks leaf -> ... -> root signatures and issuers, and returns the parsed chain. */
function verifyChain(chainPem: string, rootPem: string): X509Certificate[] {
  const certs = acme.crypto.splitPemChain(chainPem).map((p) => new X509Certificate(p));
  const root = new X509Certificate(rootPem);
  for (const [i, cert] of certs.entries()) {
    const issuer = certs[i + 1] ?? root;
    expect(cert.checkIssued(issuer), `cert ${i} issued by the next`).toBe(true);
    expect(cert.verify(issuer.publicKey), `cert ${i} signature`).toBe(true);
  }
  return certs;
}

describe('ACMEIssuer with HTTP-01 against Pebble', () => {
  let bind: Bind9;
  let pebble: Pebble;
  const http = new HTTP01Solver();
  let accountKeyPem: string;
  let issuer: ACMEIssuer;

  const issuerFor = (solver: Solver, key = accountKeyPem) =>
    new ACMEIssuer({
      directoryUrl: pebble.directoryUrl,
      caPem: pebble.tlsCaPem,
      accountKeyPem: key,
      email: 'ops@chousei.dev',
      solverFor: () => solver,
      pollIntervalMs: 100,
    });

  beforeAll(async () => {
    // Every name under example.test resolves to the HTTP-01 solver on loopback.
    bind = await startBind9({ records: { 'example.test': ['* 300 IN A 127.0.0.1'] } });
    const port = await freePort();
    await http.start(port, '127.0.0.1');
    // Pebble's default 5% badNonce rejection stays on: acme-client must retry those.
    pebble = await startPebble({ httpPort: port, dnsServer: bind.address });
    accountKeyPem = (await acme.crypto.createPrivateEcdsaKey()).toString();
    issuer = issuerFor(http);
  });

  afterAll(async () => {
    await pebble?.stop();
    await http.stop();
    await bind?.stop();
  });

  it('registers the account once and issues a certificate for two names', async () => {
    const [url, again] = await Promise.all([issuer.ensureAccount(), issuer.ensureAccount()]);
    expect(url).toBe(again);
    expect(issuer.accountUrl).toBe(url);
    const accounts = await acmeRequests({ endpoint: 'newAccount', method: 'POST' });
    expect(accounts).toBeGreaterThanOrEqual(1);
    await issuer.ensureAccount();
    expect(await acmeRequests({ endpoint: 'newAccount', method: 'POST' })).toBe(accounts);

    const names = ['www.example.test', 'api.example.test'];
    const req = await requestFor(names);
    const { ctx, saved } = context();
    const started = performance.now();
    const issued = await issuer.issue(req, ctx);
    const ms = performance.now() - started;
    console.log(`HTTP-01 order for 2 names, end to end: ${ms.toFixed(0)} ms`);

    // The order URL was saved as soon as the order existed, once.
    expect(saved).toEqual([{ orderUrl: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+\//) }]);
    const certs = verifyChain(issued.certificatePem, await pebble.rootCertificate());
    expect(certs.length).toBeGreaterThan(1);
    const leaf = certs[0]!;
    for (const n of names) expect(leaf.subjectAltName).toContain(`DNS:${n}`);
    expect(leaf.publicKey.export({ format: 'jwk' })).toEqual(
      createPublicKey(req.privateKeyPem).export({ format: 'jwk' }),
    );
    expect(issued.caPem?.trim()).toBe(acme.crypto.splitPemChain(issued.certificatePem).at(-1));
    // The renewal time is a point in the window Pebble suggests for this certificate (ARI).
    const directory = (await acme.axios.get(pebble.directoryUrl)).data as { renewalInfo: string };
    const info = await acme.axios.get(`${directory.renewalInfo}/${ariCertId(leaf.toString())}`);
    const window = parseRenewalInfo(info.data)!;
    console.log(`ARI window ${window.start.toISOString()} .. ${window.end.toISOString()}`);
    expect(issued.renewalTime!.getTime()).toBeGreaterThanOrEqual(window.start.getTime());
    expect(issued.renewalTime!.getTime()).toBeLessThanOrEqual(window.end.getTime());
    expect(window.end.getTime()).toBeLessThan(leaf.validToDate.getTime());

    // Every ACME request was counted under its endpoint.
    for (const [endpoint, method] of [
      ['directory', 'GET'],
      ['newNonce', 'HEAD'],
      ['newOrder', 'POST'],
      ['authz', 'POST'],
      ['challenge', 'POST'],
      ['finalize', 'POST'],
      ['order', 'POST'],
      ['cert', 'POST'],
      ['renewalInfo', 'GET'],
    ] as const) {
      expect(await acmeRequests({ endpoint, method }), `${method} ${endpoint}`).toBeGreaterThan(0);
    }
    expect(await acmeRequests({ endpoint: 'other' })).toBe(0);
    const duration = metricsRegistry.getSingleMetric('chousei_cert_acme_request_duration_seconds');
    expect((await duration?.get())?.values.length).toBeGreaterThan(0);
    // badNonce answers (Pebble rejects 5% of nonces) are among the 400s; issuance went on.
    console.log(
      `ACME requests so far: ${await acmeRequests({})}, HTTP 400 answers: ${await acmeRequests({ status: '400' })} (one is accountDoesNotExist, the rest badNonce)`,
    );
  });

  it('resumes the saved order after an interruption instead of creating another', async () => {
    let presents = 0;
    // The first present fails (say, the Ingress was not routed yet); later ones work.
    const flaky: Solver = {
      type: 'http-01',
      present: async (ch) => {
        if (presents++ === 0) throw new Error('ingress not ready');
        await http.present(ch);
      },
      cleanUp: (ch) => http.cleanUp(ch),
    };
    const resuming = issuerFor(flaky);
    const req = await requestFor(['one.example.test', 'two.example.test']);

    const first = context();
    const err = await resuming.issue(req, first.ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IssuanceError);
    expect(err).toMatchObject({ reason: 'PresentFailed', retryable: true });
    expect(first.saved).toHaveLength(1);
    const orderUrl = first.saved[0]!.orderUrl!;

    const ordersBefore = await acmeRequests({ endpoint: 'newOrder' });
    const second = context({ orderUrl });
    const issued = await resuming.issue(req, second.ctx);
    expect(second.saved).toEqual([]);
    expect(await acmeRequests({ endpoint: 'newOrder' })).toBe(ordersBefore);

    // The saved order is the one that was completed, with this very certificate.
    const client = new acme.Client({
      directoryUrl: pebble.directoryUrl,
      accountKey: accountKeyPem,
      accountUrl: resuming.accountUrl!,
    });
    const order = await client.getOrder({ url: orderUrl } as acme.Order);
    expect(order.status).toBe('valid');
    const fromOrder = acme.crypto.splitPemChain(await client.getCertificate(order))[0];
    expect(acme.crypto.splitPemChain(issued.certificatePem)[0]).toBe(fromOrder);
    verifyChain(issued.certificatePem, await pebble.rootCertificate());
  });

  it('names the certificate a renewal replaces, and orders without when the server refuses that', async () => {
    const names = ['renew.example.test'];
    const first = await issuer.issue(await requestFor(names), context().ctx);
    const renewal = context();
    await issuer.issue(
      { ...(await requestFor(names)), replaces: ariCertId(first.certificatePem) },
      renewal.ctx,
    );
    const account = new acme.Client({
      directoryUrl: pebble.directoryUrl,
      accountKey: accountKeyPem,
      accountUrl: issuer.accountUrl!,
    });
    const order = (await account.getOrder({ url: renewal.saved[0]!.orderUrl } as acme.Order)) as {
      replaces?: string;
    };
    expect(order.replaces).toBe(ariCertId(first.certificatePem));

    // Another account's certificate: Pebble refuses the replacement, the order goes ahead.
    const otherKey = (await acme.crypto.createPrivateEcdsaKey()).toString();
    const other = issuerFor(http, otherKey);
    const refused = context();
    const issued = await other.issue(
      { ...(await requestFor(names)), replaces: ariCertId(first.certificatePem) },
      refused.ctx,
    );
    expect(
      verifyChain(issued.certificatePem, await pebble.rootCertificate()).length,
    ).toBeGreaterThan(1);
    expect(refused.saved).toHaveLength(1);
    const otherAccount = new acme.Client({
      directoryUrl: pebble.directoryUrl,
      accountKey: otherKey,
      accountUrl: other.accountUrl!,
    });
    const plain = (await otherAccount.getOrder({
      url: refused.saved[0]!.orderUrl,
    } as acme.Order)) as { replaces?: string };
    expect(plain.replaces).toBeUndefined();
  });

  it('downloads again from a saved order that is already valid', async () => {
    const req = await requestFor(['again.example.test']);
    const first = context();
    const issued = await issuer.issue(req, first.ctx);
    const orders = await acmeRequests({ endpoint: 'newOrder' });
    const second = context({ orderUrl: first.saved[0]!.orderUrl! });
    const again = await issuer.issue(req, second.ctx);
    expect(again.certificatePem).toBe(issued.certificatePem);
    expect(second.saved).toEqual([]);
    expect(await acmeRequests({ endpoint: 'newOrder' })).toBe(orders);

    // The same names with a new key: that certificate does not fit, so a new order.
    const rekeyed = await requestFor(['again.example.test']);
    const third = context({ orderUrl: first.saved[0]!.orderUrl! });
    const fresh = await issuer.issue(rekeyed, third.ctx);
    expect(third.saved).toHaveLength(1);
    expect(new X509Certificate(fresh.certificatePem).publicKey.export({ format: 'jwk' })).toEqual(
      createPublicKey(rekeyed.privateKeyPem).export({ format: 'jwk' }),
    );
  });

  it('goes on when a challenge read as pending was validated before its submit (a resumed order)', async () => {
    // The attempt a restart interrupted had submitted the challenge; Pebble keeps it
    // `pending` while it validates, and refuses a second submit once it is valid. Here the
    // solver plays that attempt: it submits and waits for `valid` before the issuer submits.
    await issuer.ensureAccount();
    const account = new acme.Client({
      directoryUrl: pebble.directoryUrl,
      accountKey: accountKeyPem,
      accountUrl: issuer.accountUrl!,
    });
    const { ctx, saved } = context();
    const racing: Solver = {
      type: 'http-01',
      present: async (ch) => {
        await http.present(ch);
        const order = await account.getOrder({ url: saved[0]!.orderUrl } as acme.Order);
        const authz = async () =>
          (await account.getAuthorizations(order)).find((a) =>
            a.challenges.some((c) => c.token === ch.token),
          )!;
        await account.completeChallenge(
          (await authz()).challenges.find((c) => c.type === 'http-01')!,
        );
        await waitFor(async () => (await authz()).status === 'valid', { intervalMs: 50 });
      },
      cleanUp: (ch) => http.cleanUp(ch),
    };
    const issued = await issuerFor(racing).issue(await requestFor(['race.example.test']), ctx);
    expect(verifyChain(issued.certificatePem, await pebble.rootCertificate())).toHaveLength(2);
    expect(saved.map((s) => s.orderUrl)).toHaveLength(1);
  });

  it('starts a new order when the saved one is for other names, or unknown', async () => {
    const { ctx: firstCtx, saved: firstSaved } = context();
    await issuer.issue(await requestFor(['old.example.test']), firstCtx);
    const { ctx, saved } = context({ orderUrl: firstSaved[0]!.orderUrl! });
    await issuer.issue(await requestFor(['new.example.test']), ctx);
    expect(saved).toHaveLength(1);
    expect(saved[0]!.orderUrl).not.toBe(firstSaved[0]!.orderUrl);

    const gone = context({
      orderUrl: new URL('/my-order/no-such-order', pebble.directoryUrl).href,
    });
    await issuer.issue(await requestFor(['gone.example.test']), gone.ctx);
    expect(gone.saved).toHaveLength(1);
  });

  it('fails the order for good when the CSR does not match the names', async () => {
    const req = await requestFor(['csr.example.test']);
    const other = await requestFor(['other.example.test']);
    const err = await issuer
      .issue({ ...req, csrPem: other.csrPem }, context().ctx)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IssuanceError);
    console.log(`bad CSR: ${(err as IssuanceError).reason}: ${(err as Error).message}`);
    expect(err).toMatchObject({ reason: 'OrderFailed', retryable: false });
    expect((err as Error).message).toContain('finalize');
  });

  it('reports a failed challenge with the server detail, and cleans up', async () => {
    let token = '';
    const liar: Solver = {
      type: 'http-01',
      present: (ch) => {
        token = ch.token;
        return http.present({ ...ch, keyAuthorization: `${ch.token}.not-our-thumbprint` });
      },
      cleanUp: (ch) => http.cleanUp(ch),
    };
    const err = await issuerFor(liar)
      .issue(await requestFor(['bad.example.test']), context().ctx)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IssuanceError);
    const e = err as IssuanceError;
    console.log(`ChallengeFailed message: ${e.message}`);
    expect(e.reason).toBe('ChallengeFailed');
    expect(e.retryable).toBe(true);
    expect(e.message).toContain('bad.example.test');
    expect(e.message).toContain('unauthorized');
    expect(e.message).toContain('not-our-thumbprint');
    expect(await httpStatus(http.port, `/.well-known/acme-challenge/${token}`)).toBe(404);
  });

  it('refuses a wildcard with an HTTP-01 solver (the server offers only DNS-01)', async () => {
    const err = await issuer
      .issue(await requestFor(['*.example.test']), context().ctx)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'NoSupportedChallenge', retryable: false });
    expect((err as Error).message).toContain('dns-01');
  });

  it('reports an unreachable server as retryable, quickly', async () => {
    await pebble.stopServer();
    try {
      const started = performance.now();
      const err = await issuer
        .issue(await requestFor(['down.example.test']), context().ctx)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IssuanceError);
      expect(err).toMatchObject({ reason: 'ACMEServerUnreachable', retryable: true });
      expect((err as Error).message).toContain('ECONNREFUSED');
      // Registration of a new account fails the same way, not as a refused account.
      const fresh = issuerFor(http, (await acme.crypto.createPrivateEcdsaKey()).toString());
      await expect(fresh.ensureAccount()).rejects.toMatchObject({
        reason: 'ACMEServerUnreachable',
        retryable: true,
      });
      // No sleeping through acme-client's retries (5 attempts, 75 s).
      expect(performance.now() - started).toBeLessThan(5000);
      expect(await acmeRequests({ status: 'error' })).toBeGreaterThan(0);
    } finally {
      await pebble.startServer();
    }
    // Pebble forgot every account on restart: the issuer registers again by itself.
    const before = issuer.accountUrl;
    const issued = await issuer.issue(await requestFor(['back.example.test']), context().ctx);
    verifyChain(issued.certificatePem, await pebble.rootCertificate());
    expect(issuer.accountUrl).toBeDefined();
    expect(issuer.accountUrl).not.toBe(before);
  });
});

describe('ACMEIssuer account registration with External Account Binding', () => {
  let pebble: Pebble;
  const hmacKey = Buffer.from('chousei-eab-hmac-key-0123456789abcdef').toString('base64url');

  beforeAll(async () => {
    pebble = await startPebble({ eabKeys: { 'kid-1': hmacKey } });
  });
  afterAll(() => pebble?.stop());

  const issuerWith = async (eab?: { keyId: string; hmacKeyBase64: string }) =>
    new ACMEIssuer({
      directoryUrl: pebble.directoryUrl,
      caPem: pebble.tlsCaPem,
      accountKeyPem: (await acme.crypto.createPrivateEcdsaKey()).toString(),
      ...(eab ? { externalAccountBinding: eab } : {}),
      solverFor: () => undefined,
    });

  it('fails registration without a binding, for good', async () => {
    const err = await (await issuerWith()).ensureAccount().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IssuanceError);
    expect(err).toMatchObject({ reason: 'RegistrationFailed', retryable: false });
    expect((err as Error).message).toContain('externalAccountRequired');
  });

  it('registers with the binding', async () => {
    const issuer = await issuerWith({ keyId: 'kid-1', hmacKeyBase64: hmacKey });
    expect(await issuer.ensureAccount()).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);
  });

  it('rejects an unknown key id', async () => {
    const issuer = await issuerWith({ keyId: 'kid-2', hmacKeyBase64: hmacKey });
    await expect(issuer.ensureAccount()).rejects.toMatchObject({
      reason: 'RegistrationFailed',
      retryable: false,
    });
  });
});

describe('Retry-After', () => {
  it('reads delay-seconds and HTTP dates', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('ACME Renewal Information certificate ID', () => {
  it('matches the example of RFC 9773', async () => {
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ]);
    const cert = await X509CertificateGenerator.createSelfSigned({
      serialNumber: '0087654321',
      name: 'CN=ari example',
      notBefore: new Date(),
      notAfter: new Date(Date.now() + 3600_000),
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [new AuthorityKeyIdentifierExtension('69885b6b87464041e1b37b847ba0ae2cde01c8d4')],
    });
    expect(ariCertId(cert.toString('pem'))).toBe('aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
  });
});
