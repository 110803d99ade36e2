import { isIP } from 'node:net';
import { type Logger, silentLogger, sleep } from '@chousei/runtime';
import * as acme from 'acme-client';
import { IssuanceError } from '../../issuance.js';
import { type ParsedCertificate, parseCertificate } from '../../pki/certificate.js';
import { csrPublicKey } from '../../pki/csr.js';
import { publicKeyDer } from '../../pki/keys.js';
import { splitPem } from '../../pki/pem.js';
import type { Solver, Challenge as SolverChallenge } from '../../solvers/solver.js';
import type {
  CertificateRequest,
  IssueContext,
  IssuedCertificate,
  Issuer,
  RenewalWindow,
} from '../issuer.js';
import { ariCertIdOfInfo, parseRenewalInfo, renewalTimeIn } from './ari.js';
import {
  ACMENetworkError,
  ACMEProblemError,
  directoryOf,
  learnEndpoint,
  registerACMEServer,
} from './http.js';

type Order = acme.Order;
type Authorization = acme.Authorization;
type Identifier = Order['identifiers'][number];

/** A registered account and the client that registered it. */
interface Account {
  client: acme.Client;
  url: string;
}

/** What one issue() call works with. */
interface Run {
  client: acme.Client;
  ctx: IssueContext;
  log: Logger;
}

export interface ACMEIssuerOptions {
  directoryUrl: string;
  /** Account contact (`mailto:`); expiry notices go there. */
  email?: string;
  /** PEM private key of the ACME account (RSA or ECDSA). */
  accountKeyPem: string;
  /** For CAs that only register accounts bound to one of theirs (ZeroSSL, Google, ...). */
  externalAccountBinding?: { keyId: string; hmacKeyBase64: string };
  /** Extra CA to trust for the ACME server's own TLS (a private or test CA such as Pebble). */
  caPem?: string;
  /** The solver for a DNS name (`*.example.com` for a wildcard); undefined: none fits. */
  solverFor(name: string): Solver | undefined;
  logger?: Logger;
  /** First wait between polls of an authorization or order, doubling up to 5 s. Default 250. */
  pollIntervalMs?: number;
  /** Longest wait for one authorization or order to change state. Default 5 min. */
  pollTimeoutMs?: number;
}

const MAX_POLL_INTERVAL_MS = 5000;
/** ACME problems a retry of the same request cannot fix (RFC 8555 6.7). */
const PERMANENT_PROBLEMS = new Set([
  'badCSR',
  'badPublicKey',
  'badSignatureAlgorithm',
  'malformed',
  'rejectedIdentifier',
  'unsupportedIdentifier',
]);

/**
 * Issues certificates from an ACME server (RFC 8555) with acme-client: one account per
 * issuer, orders resumed from their saved URL, challenges answered by the solver
 * `solverFor` picks per name, and the renewal time from ACME Renewal Information.
 */
export class ACMEIssuer implements Issuer {
  readonly kind = 'ACME' as const;
  private readonly opts: ACMEIssuerOptions;
  private readonly log: Logger;
  private readonly origin: string;
  private readonly pollIntervalMs: number;
  private readonly pollTimeoutMs: number;
  /** The registration, shared by concurrent callers; `value` once it is done. */
  private account: { promise: Promise<Account>; value?: Account } | undefined;
  private registeredUrl: string | undefined;

  constructor(opts: ACMEIssuerOptions) {
    this.opts = opts;
    this.origin = new URL(opts.directoryUrl).origin;
    this.log = (opts.logger ?? silentLogger).child({ issuer: 'ACME', server: this.origin });
    this.pollIntervalMs = opts.pollIntervalMs ?? 250;
    this.pollTimeoutMs = opts.pollTimeoutMs ?? 300_000;
    registerACMEServer(opts.directoryUrl, opts.caPem);
  }

  /** The account URL, once ensureAccount() has registered (or found) the account. */
  get accountUrl(): string | undefined {
    return this.registeredUrl;
  }

  /**
   * Registers the account (or finds the one the key already has) once; concurrent and
   * later calls share the result. A failure is not cached, so the next call tries again.
   */
  async ensureAccount(): Promise<string> {
    return (await this.session()).url;
  }

  private session(): Promise<Account> {
    if (!this.account) {
      const entry: { promise: Promise<Account>; value?: Account } = {
        promise: this.register().then(
          (account) => {
            entry.value = account;
            return account;
          },
          (err: unknown) => {
            if (this.account === entry) this.account = undefined;
            throw err;
          },
        ),
      };
      this.account = entry;
    }
    return this.account.promise;
  }

  /** Drops a registration the server no longer knows, unless a newer one replaced it. */
  private forget(account: Account): void {
    if (this.account?.value === account) this.account = undefined;
  }

  /** A client of its own per registration: acme-client keeps the account URL it found. */
  private async register(): Promise<Account> {
    const client = new acme.Client({
      directoryUrl: this.opts.directoryUrl,
      accountKey: this.opts.accountKeyPem,
      ...(this.opts.externalAccountBinding
        ? {
            externalAccountBinding: {
              kid: this.opts.externalAccountBinding.keyId,
              hmacKey: this.opts.externalAccountBinding.hmacKeyBase64,
            },
          }
        : {}),
    });
    const contact = this.opts.email ? { contact: [`mailto:${this.opts.email}`] } : {};
    try {
      // Look the key's account up first: for an existing account acme-client would follow
      // newAccount with an update carrying the creation fields, which servers may refuse
      // (Pebble: "malformed" for termsOfServiceAgreed alone).
      let existing = true;
      try {
        await client.createAccount({ onlyReturnExisting: true });
      } catch (err) {
        if (!(err instanceof ACMEProblemError && err.type === 'accountDoesNotExist')) throw err;
        existing = false;
      }
      if (!existing) await client.createAccount({ termsOfServiceAgreed: true, ...contact });
      else if (this.opts.email) await client.updateAccount(contact);
      const url = client.getAccountUrl();
      this.registeredUrl = url;
      learnEndpoint(url, 'account');
      this.log.info({ account: url, existing }, 'ACME account registered');
      return { client, url };
    } catch (err) {
      const e = this.issuanceError(err, 'RegistrationFailed');
      if (e instanceof IssuanceError) throw e;
      // A key acme-client cannot use, a directory without newAccount: fix the Issuer.
      throw new IssuanceError(
        'RegistrationFailed',
        `registering the ACME account: ${errorText(err)}`,
        false,
        undefined,
        { cause: err },
      );
    }
  }

  async issue(req: CertificateRequest, ctx: IssueContext): Promise<IssuedCertificate> {
    const log = ctx.log.child({ certificate: req.certificate, issuer: 'ACME' });
    for (let attempt = 1; ; attempt++) {
      let account: Account | undefined;
      try {
        account = await this.session();
        return await this.issueWith({ client: account.client, ctx, log }, req);
      } catch (err) {
        // The server no longer knows the account (a test CA restarted, an account
        // deactivated elsewhere): register again, once, and carry on.
        if (
          account &&
          attempt === 1 &&
          err instanceof ACMEProblemError &&
          err.type === 'accountDoesNotExist'
        ) {
          log.info({ account: account.url }, 'the ACME server lost the account, registering again');
          this.forget(account);
          continue;
        }
        throw this.issuanceError(err, 'OrderFailed');
      }
    }
  }

  private async issueWith(run: Run, req: CertificateRequest): Promise<IssuedCertificate> {
    const { ctx, log, client } = run;
    const started = Date.now();
    const identifiers = identifiersOf(req);
    if (identifiers.length === 0) {
      throw new IssuanceError('InvalidRequest', 'no DNS names or IP addresses to certify', false);
    }
    const saved = await this.resumeOrder(run, identifiers);
    let resumed = saved !== undefined;
    let order = saved ?? (await this.createOrder(run, identifiers, req.replaces));
    // Each state moves forward or throws; the bound only guards against a server that
    // keeps answering `ready` to finalize.
    for (let step = 0; step < 16; step++) {
      ctx.signal.throwIfAborted();
      const current = order;
      switch (current.status) {
        case 'pending':
          await this.authorize(run, current);
          order = await this.poll(
            `order ${current.url}`,
            () => client.getOrder(current),
            (o) => o.status !== 'pending',
            ctx.signal,
          );
          break;
        case 'ready':
          log.info({ order: current.url }, 'finalizing order');
          order = await client.finalizeOrder(current, req.csrPem);
          break;
        case 'processing':
          order = await this.poll(
            `order ${current.url}`,
            () => client.getOrder(current),
            (o) => o.status !== 'processing',
            ctx.signal,
          );
          break;
        case 'valid': {
          const chain = await this.download(run, current);
          const leaf = readLeaf(chain[0]!, current.url);
          // A resumed order may have been finalized with an earlier CSR (another key):
          // its certificate would not fit the key the caller stores it with.
          if (!certifiesCsrKey(leaf, req.csrPem)) {
            if (!resumed) {
              throw new IssuanceError(
                'OrderFailed',
                `the certificate of ${current.url} is not for the CSR's key`,
                true,
              );
            }
            log.info({ order: current.url }, 'saved order was finalized for another key');
            resumed = false;
            order = await this.createOrder(run, identifiers, req.replaces);
            break;
          }
          const id = ariCertIdOfInfo(leaf.info);
          const window = id === undefined ? undefined : await this.renewalWindow(id, log);
          const renewalTime = window && renewalTimeIn(window);
          log.info(
            { order: current.url, ms: Date.now() - started, renewalTime },
            'certificate issued',
          );
          return {
            certificatePem: chain.join(''),
            // The chain's last certificate anchors it (with Pebble: the intermediate).
            ...(chain.length > 1 ? { caPem: chain.at(-1)! } : {}),
            ...(renewalTime ? { renewalTime } : {}),
            info: leaf.info,
          };
        }
        case 'invalid':
          throw new IssuanceError(
            'OrderFailed',
            `order ${current.url} is invalid${problemText(current.error)}`,
            true,
          );
      }
    }
    throw new IssuanceError('OrderFailed', `order ${order.url} is stuck in ${order.status}`, true);
  }

  /** The saved order, when it can still complete this request; undefined: start anew. */
  private async resumeOrder(run: Run, identifiers: Identifier[]): Promise<Order | undefined> {
    const { ctx, log, client } = run;
    const url = ctx.resume?.orderUrl;
    if (!url) return undefined;
    if (!sameOrigin(url, this.origin)) {
      log.info({ order: url }, 'saved order belongs to another ACME server, starting a new one');
      return undefined;
    }
    learnEndpoint(url, 'order');
    let order: Order;
    try {
      order = await client.getOrder(orderAt(url));
    } catch (err) {
      // Gone (expired and purged) or not this account's: start afresh. Anything else (the
      // server down) keeps the saved order for the next attempt.
      if (
        err instanceof ACMEProblemError &&
        err.status < 500 &&
        err.status !== 429 &&
        err.type !== 'accountDoesNotExist'
      ) {
        log.info({ order: url, err: err.message }, 'saved order unavailable, starting a new one');
        return undefined;
      }
      throw err;
    }
    if (order.status === 'invalid') {
      log.info(
        { order: url, problem: problemText(order.error) },
        'saved order is invalid, starting a new one',
      );
      return undefined;
    }
    if (!sameIdentifiers(order.identifiers, identifiers)) {
      log.info({ order: url }, 'saved order is for other names, starting a new one');
      return undefined;
    }
    log.info({ order: url, status: order.status }, 'resuming saved order');
    return order;
  }

  private async createOrder(
    run: Run,
    identifiers: Identifier[],
    replaces: string | undefined,
  ): Promise<Order> {
    const order = await this.newOrder(run, identifiers, replaces);
    // Saved before any waiting, so an interrupted issuance resumes this order instead of
    // creating another (orders count against the CA's rate limits).
    await run.ctx.save({ orderUrl: order.url });
    run.log.info(
      { order: order.url, identifiers: identifiers.map((i) => i.value) },
      'ACME order created',
    );
    return order;
  }

  /**
   * newOrder, naming the certificate it renews (RFC 9773 `replaces`) when the server serves
   * renewal information. A server refusing that (the certificate is another account's, or
   * already replaced by an order that failed) gets the order without it.
   */
  private async newOrder(
    run: Run,
    identifiers: Identifier[],
    replaces: string | undefined,
  ): Promise<Order> {
    const ari = replaces && (await directoryOf(this.opts.directoryUrl)).renewalInfo;
    if (!replaces || typeof ari !== 'string') return run.client.createOrder({ identifiers });
    // acme-client passes the request through; its type does not know RFC 9773's field.
    const request: Parameters<acme.Client['createOrder']>[0] & { replaces: string } = {
      identifiers,
      replaces,
    };
    try {
      return await run.client.createOrder(request);
    } catch (err) {
      if (!(err instanceof ACMEProblemError) || err.type === 'rateLimited') throw err;
      run.log.info(
        { replaces, err: err.message },
        'the ACME server refused the order as a renewal; ordering without replaces',
      );
      return run.client.createOrder({ identifiers });
    }
  }

  /** Answers every pending authorization of the order, at once; all clean up first. */
  private async authorize(run: Run, order: Order): Promise<void> {
    const authzs = await run.client.getAuthorizations(order);
    const results = await Promise.allSettled(
      authzs.map((authz) => this.authorizeOne(run, order, authz)),
    );
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (errors.length === 0) return;
    // Names failing alike (validation, self-check) are all named in one message.
    const first = errors[0];
    const alike = errors.filter(
      (e): e is IssuanceError =>
        e instanceof IssuanceError && first instanceof IssuanceError && e.reason === first.reason,
    );
    if (first instanceof IssuanceError && alike.length > 1 && alike.length === errors.length) {
      const retryAfterMs = Math.max(...alike.map((e) => e.retryAfterMs ?? 0));
      throw new IssuanceError(
        first.reason,
        alike.map((e) => e.message).join('; '),
        alike.every((e) => e.retryable),
        retryAfterMs || undefined,
      );
    }
    throw first;
  }

  private async authorizeOne(run: Run, order: Order, authz: Authorization): Promise<void> {
    const { ctx, log, client } = run;
    if (authz.status === 'valid') return;
    const name = authz.wildcard ? `*.${authz.identifier.value}` : authz.identifier.value;
    if (authz.status !== 'pending') {
      throw new IssuanceError(
        'ChallengeFailed',
        `${name}: authorization is ${authz.status}${challengeProblem(authz)}`,
        true,
      );
    }
    const solver = this.opts.solverFor(name);
    if (!solver) throw new IssuanceError('NoSolver', `no solver is configured for ${name}`, false);
    const challenge = authz.challenges.find((c) => c.type === solver.type);
    if (!challenge) {
      const offered = authz.challenges.map((c) => c.type).join(', ');
      throw new IssuanceError(
        'NoSupportedChallenge',
        `${name}: the server offers ${offered}, the solver answers ${solver.type}`,
        false,
      );
    }
    const ch: SolverChallenge = {
      identifier: authz.identifier.value,
      token: challenge.token,
      keyAuthorization: await client.getChallengeKeyAuthorization(challenge),
      signal: ctx.signal,
      ...(ctx.stopping ? { stopping: ctx.stopping } : {}),
      ...(ctx.progress ? { progress: ctx.progress } : {}),
    };
    const started = Date.now();
    try {
      try {
        await solver.present(ch);
      } catch (err) {
        if (err instanceof IssuanceError || ctx.stopping?.aborted) throw err;
        throw new IssuanceError(
          'PresentFailed',
          `${name}: presenting the ${solver.type} challenge failed: ${errorText(err)}`,
          true,
          undefined,
          { cause: err },
        );
      }
      ctx.signal.throwIfAborted();
      const current = async () =>
        (await client.getAuthorizations({ ...order, authorizations: [authz.url] }))[0] ?? authz;
      // A challenge an interrupted attempt submitted is not submitted again: a second
      // validation could end after the answer is withdrawn and fail the authorization.
      // RFC 8555 reports it `processing`; Pebble keeps it `pending` with `validated` set.
      const submitted = challenge.status !== 'pending' || challenge.validated !== undefined;
      if (!submitted) {
        await client.completeChallenge(challenge).catch(async (err: unknown) => {
          // A server that keeps a challenge `pending` while validating it (Pebble) may
          // finish the interrupted attempt's validation between our read and this submit,
          // and refuse it: the authorization as it is now decides.
          const now = await current();
          const again = now.challenges.find((c) => c.url === challenge.url);
          if (now.status === 'pending' && again?.status === 'pending') throw err;
          log.info({ name, authorization: now.status }, 'challenge was validated meanwhile');
        });
      }
      const done = await this.poll(
        `authorization of ${name}`,
        current,
        (a) => a.status !== 'pending',
        ctx.signal,
      );
      if (done.status !== 'valid') {
        throw new IssuanceError(
          'ChallengeFailed',
          `${name}: ${solver.type} validation failed${challengeProblem(done, solver.type)}`,
          true,
        );
      }
      log.info({ name, challenge: solver.type, ms: Date.now() - started }, 'authorization valid');
    } finally {
      // Always, also after a failure: a DNS record or a route left behind lingers.
      await solver.cleanUp(ch).catch((err: unknown) => {
        log.warn(
          { name, challenge: solver.type, err: errorText(err) },
          'challenge clean-up failed',
        );
      });
    }
  }

  /** The certificate chain of a valid order, leaf first, each PEM ending in a newline. */
  private async download(run: Run, order: Order): Promise<string[]> {
    const pem = await run.client.getCertificate(order);
    const chain = splitPem(pem);
    if (chain.length === 0) {
      throw new IssuanceError('OrderFailed', `${order.certificate} holds no certificate`, true);
    }
    return chain;
  }

  /** The CA's suggested renewal window (RFC 9773), when it has one. */
  async renewalWindow(certId: string, log: Logger): Promise<RenewalWindow | undefined> {
    try {
      const base = (await directoryOf(this.opts.directoryUrl)).renewalInfo;
      if (typeof base !== 'string') return undefined;
      const res = await acme.axios.get(`${base.replace(/\/+$/, '')}/${certId}`);
      const body: unknown = res.data;
      const window = parseRenewalInfo(body);
      if (!window) {
        log.info('malformed ACME renewal information, renewing by lifetime');
        return undefined;
      }
      return window;
    } catch (err) {
      // RFC 9773 leaves the schedule to the client when the server gives no answer.
      log.info({ err: errorText(err) }, 'no ACME renewal information, renewing by lifetime');
      return undefined;
    }
  }

  /** Polls until `done`, waiting longer each time (RFC 8555 7.5.1 asks for back-off). */
  private async poll<T extends { status: string }>(
    what: string,
    fetch: () => Promise<T>,
    done: (item: T) => boolean,
    signal: AbortSignal,
  ): Promise<T> {
    const started = Date.now();
    let delay = this.pollIntervalMs;
    for (;;) {
      const item = await fetch();
      if (done(item)) return item;
      if (Date.now() + delay - started > this.pollTimeoutMs) {
        throw new IssuanceError(
          'ACMETimeout',
          `${what} still ${item.status} after ${Math.round((Date.now() - started) / 1000)}s`,
          true,
        );
      }
      await sleep(delay, signal);
      signal.throwIfAborted();
      delay = Math.min(delay * 2, MAX_POLL_INTERVAL_MS);
    }
  }

  /** The IssuanceError an ACME failure means; other errors are returned unchanged. */
  private issuanceError(err: unknown, reason: string): unknown {
    if (err instanceof IssuanceError) return err;
    if (err instanceof ACMENetworkError) {
      return new IssuanceError(
        'ACMEServerUnreachable',
        `ACME server ${this.origin} unreachable: ${err.message}`,
        true,
        undefined,
        { cause: err },
      );
    }
    if (!(err instanceof ACMEProblemError)) return err;
    if (err.status === 429 || err.type === 'rateLimited') {
      return new IssuanceError('RateLimited', err.message, true, err.retryAfterMs, { cause: err });
    }
    if (err.status >= 500) {
      return new IssuanceError(
        'ACMEServerUnreachable',
        `ACME server ${this.origin} failed: ${err.message}`,
        true,
        err.retryAfterMs,
        { cause: err },
      );
    }
    // The CA refusing our CSR (wrong names, weak key) gets the same answer every time;
    // only `orderNotReady` (finalizing too early) goes away by itself.
    const refusedCSR = err.endpoint === 'finalize' && err.type !== 'orderNotReady';
    const retryable =
      reason !== 'RegistrationFailed' && !refusedCSR && !PERMANENT_PROBLEMS.has(err.type ?? '');
    return new IssuanceError(reason, err.message, retryable, err.retryAfterMs, { cause: err });
  }
}

/** ACME identifiers of the request: its DNS names (the common name too) and IP addresses. */
function identifiersOf(req: CertificateRequest): Identifier[] {
  const dns = new Set<string>();
  const ips = new Set<string>(req.ipAddresses);
  for (const name of [req.commonName, ...req.dnsNames]) {
    if (!name) continue;
    if (isIP(name)) ips.add(name);
    else dns.add(name.toLowerCase());
  }
  return [
    ...[...dns].map((value) => ({ type: 'dns', value })),
    ...[...ips].map((value) => ({ type: 'ip', value })),
  ];
}

function sameIdentifiers(a: Identifier[], b: Identifier[]): boolean {
  const key = (i: Identifier) => `${i.type}:${i.value.toLowerCase()}`;
  const as = new Set(a.map(key));
  const bs = new Set(b.map(key));
  return as.size === bs.size && [...as].every((k) => bs.has(k));
}

function sameOrigin(url: string, origin: string): boolean {
  try {
    return new URL(url).origin === origin;
  } catch {
    return false;
  }
}

/** The leaf (first) certificate of a downloaded chain, parsed once for every check. */
function readLeaf(chainPem: string, orderUrl: string): ParsedCertificate {
  try {
    return parseCertificate(chainPem);
  } catch (err) {
    // The CA's answer, not ours: a later download may be whole.
    throw new IssuanceError(
      'OrderFailed',
      `the certificate of ${orderUrl} cannot be read: ${(err as Error).message}`,
      true,
      undefined,
      { cause: err },
    );
  }
}

/** Whether the leaf is for the public key of `csrPem`. */
function certifiesCsrKey(leaf: ParsedCertificate, csrPem: string): boolean {
  return publicKeyDer(leaf.publicKey).equals(publicKeyDer(csrPublicKey(csrPem)));
}

/** An order known only by URL: acme-client's getOrder reads nothing else. */
function orderAt(url: string): Order {
  return { url, status: 'pending', identifiers: [], authorizations: [], finalize: '' };
}

/** `: type: detail` of an ACME problem object, or '' when there is none. */
function problemText(problem: unknown): string {
  if (typeof problem !== 'object' || problem === null) return '';
  const type =
    'type' in problem && typeof problem.type === 'string'
      ? problem.type.replace('urn:ietf:params:acme:error:', '')
      : undefined;
  const detail = 'detail' in problem && typeof problem.detail === 'string' ? problem.detail : '';
  return type || detail ? `: ${[type, detail].filter(Boolean).join(': ')}` : '';
}

/** The server's reason an authorization failed: its (preferably `type`) challenge's error. */
function challengeProblem(authz: Authorization, type?: string): string {
  const challenges = [...authz.challenges].sort(
    (a, b) => Number(b.type === type) - Number(a.type === type),
  );
  for (const c of challenges) {
    const text = problemText(c.error);
    if (text) return text;
  }
  return '';
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
