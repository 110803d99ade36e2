import { type EventRecorder, type Logger, objectKey, setCondition } from '@chousei/runtime';
import type { Certificate, CertificateStatus } from '../../api/types.js';
import type { IssuanceProgress } from '../../issuance.js';
import type { IssueContext, IssuedCertificate, Issuer } from '../../issuers/issuer.js';
import type { IssuanceInput } from './issuing.js';
import type { SigningKey } from './key-manager.js';

/** Why a reconcile waiting for an attempt wakes: it has news, or the Certificate changed. */
export type WakeCause = 'news' | 'object';

/** How an attempt ended. */
export type AttemptOutcome = { issued: IssuedCertificate } | { error: unknown };

/** What an attempt runs with beside its issuer: the operator's signals and who to tell. */
export interface AttemptContext {
  signal: AbortSignal;
  stopping: AbortSignal;
  log: Logger;
  events: EventRecorder;
  /** Queues the Certificate again: the attempt has something new to show. */
  enqueue(): void;
}

/**
 * One issuance, from its key to its certificate or failure, apart from any reconcile: an
 * ACME order outlives the reconcile that placed it. The issuer records on it what the
 * status must show (the order, what each name waits for); each reconcile reads that as
 * data, and the runtime writes the status once per reconcile.
 */
export class IssuanceAttempt {
  /** Each subject's latest report, in the order first reported. */
  private readonly reports = new Map<string, string>();
  private orderUrl: string | undefined;
  private result: AttemptOutcome | undefined;
  private readonly abort = new AbortController();
  /** The reconcile waiting for its next change. */
  private readonly waiting: ((cause: WakeCause) => void)[] = [];
  /** Settles when the attempt ends; never rejects. */
  readonly done: Promise<void>;

  constructor(
    /** The Certificate as when the attempt started: the spec it issues for. */
    readonly cert: Certificate,
    readonly input: IssuanceInput,
    readonly issuer: Issuer,
    readonly key: SigningKey,
    issue: (ctx: IssueContext) => Promise<IssuedCertificate>,
    ctx: AttemptContext,
  ) {
    const issueCtx: IssueContext = {
      signal: AbortSignal.any([ctx.signal, this.abort.signal]),
      stopping: AbortSignal.any([ctx.stopping, this.abort.signal]),
      log: ctx.log,
      ...(cert.status?.acmeOrder ? { resume: { orderUrl: cert.status.acmeOrder.url } } : {}),
      save: async ({ orderUrl }) => {
        if (!orderUrl || orderUrl === this.orderUrl) return;
        this.orderUrl = orderUrl;
        this.changed(ctx);
      },
      progress: (p: IssuanceProgress) => {
        ctx.events.event(cert, 'Normal', p.reason, 'Issue', p.message);
        this.reports.set(p.subject, p.message);
        this.changed(ctx);
      },
    };
    this.done = issue(issueCtx).then(
      (issued) => this.end({ issued }, ctx),
      (error: unknown) => this.end({ error }, ctx),
    );
  }

  /** How it ended; undefined while it runs. */
  get outcome(): AttemptOutcome | undefined {
    return this.result;
  }

  /** Whether it issues for the spec `cert` has now (not one edited since, nor a namesake). */
  issuesFor(cert: Certificate): boolean {
    const { uid, generation } = this.cert.metadata ?? {};
    return uid === cert.metadata?.uid && generation === cert.metadata?.generation;
  }

  /** Ends it early (the spec changed, the Certificate is gone); `done` tells when it has. */
  stop(reason: string): void {
    this.abort.abort(new Error(reason));
  }

  /**
   * `cert`'s status as the attempt tells it: Issuing with what it waits for, its next key
   * and ACME order. Undefined while it has nothing to add (a new order not placed yet: the
   * status written with the order then says it all in one write).
   */
  status(cert: Certificate): CertificateStatus | undefined {
    const resumed = this.cert.status?.acmeOrder !== undefined;
    if (!resumed && this.orderUrl === undefined && this.reports.size === 0) return undefined;
    return this.statusOnEnd(cert);
  }

  /** The status an ending builds on: as `status()`, with or without anything to show. */
  statusOnEnd(cert: Certificate): CertificateStatus {
    const { need } = this.input;
    const message = [...this.reports.values()].join('; ') || need.message;
    const orderUrl = this.orderUrl ?? this.cert.status?.acmeOrder?.url;
    return {
      ...cert.status,
      conditions: setCondition(cert.status?.conditions, {
        type: 'Issuing',
        status: 'True',
        reason: need.reason,
        message,
      }).conditions,
      ...(this.key.storedIn ? { nextPrivateKeySecretName: this.key.storedIn } : {}),
      ...(orderUrl ? { acmeOrder: { url: orderUrl } } : {}),
    };
  }

  /**
   * Resolves at its next change (an order placed, a report) or its end: `news`; or when its
   * Certificate is edited or deleted meanwhile (`interrupt`): `object`.
   */
  change(): Promise<WakeCause> {
    if (this.result) return Promise.resolve('news');
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Its Certificate was edited or deleted: the reconcile waiting for it lets go. */
  interrupt(): void {
    for (const wake of this.waiting.splice(0)) wake('object');
  }

  private end(outcome: AttemptOutcome, ctx: AttemptContext): void {
    this.result = outcome;
    this.changed(ctx);
  }

  /** Wakes the reconcile that waits for it, or else queues one. */
  private changed(ctx: AttemptContext): void {
    if (this.waiting.length === 0) ctx.enqueue();
    for (const wake of this.waiting.splice(0)) wake('news');
  }
}

/**
 * The attempts under way, at most one per Certificate, and at most `concurrency` of them
 * working at once: the others wait their turn, first come first served, as the
 * Certificates showing Issuing.
 */
export class Attempts {
  private readonly byKey = new Map<string, IssuanceAttempt>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly concurrency: number) {}

  /** The attempt for `cert`'s name, whatever spec it issues for. */
  of(cert: Certificate): IssuanceAttempt | undefined {
    return this.byKey.get(objectKey(cert));
  }

  add(attempt: IssuanceAttempt): void {
    this.byKey.set(objectKey(attempt.cert), attempt);
  }

  /** `cert` was edited or deleted: the reconcile following its attempt lets go. */
  interrupt(cert: Certificate): void {
    this.of(cert)?.interrupt();
  }

  /** Forgets `cert`'s attempt (its outcome taken). */
  forget(cert: Certificate): void {
    this.byKey.delete(objectKey(cert));
  }

  /** Stops `cert`'s attempt, if any, and waits until it has ended (its clean-up done). */
  async stop(cert: Certificate, reason: string): Promise<void> {
    const attempt = this.of(cert);
    if (!attempt) return;
    attempt.stop(reason);
    await attempt.done;
    this.forget(cert);
  }

  /** Resolves once every attempt under way has ended (at shutdown, after `stopping`). */
  async settled(): Promise<void> {
    await Promise.all([...this.byKey.values()].map((a) => a.done));
  }

  /** Runs `work` in a slot of its own, once one is free (or fails when `signal` aborts). */
  async inTurn<R>(signal: AbortSignal, work: () => Promise<R>): Promise<R> {
    signal.throwIfAborted();
    if (this.running < this.concurrency) this.running++;
    else await this.turn(signal);
    try {
      return await work();
    } finally {
      // The slot goes to the next in line as it is, or is freed.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  private turn(signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const go = () => {
        signal.removeEventListener('abort', giveUp);
        resolve();
      };
      const giveUp = () => {
        this.waiting.splice(this.waiting.indexOf(go), 1);
        reject(signal.reason);
      };
      this.waiting.push(go);
      signal.addEventListener('abort', giveUp, { once: true });
    });
  }
}
