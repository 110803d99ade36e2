import {
  type EventRecorder,
  type Logger,
  type ObjectKey,
  objectKey,
  setCondition,
} from '@chousei/runtime';
import type { Certificate, CertificateStatus, Issuer as IssuerResource } from '../../api/types.js';
import type { IssuanceProgress } from '../../issuance.js';
import type {
  CertificateRequest,
  IssueContext,
  IssuedCertificate,
  Issuer,
} from '../../issuers/issuer.js';
import type { IssuanceNeed } from '../policy.js';
import type { SecretContents } from '../secret.js';
import type { Admitted } from './gate.js';
import type { SigningKey } from './key-manager.js';

/** What an issuance needs beside the Certificate: why, what it may use, the Secret as read. */
export interface IssuanceInput {
  need: IssuanceNeed;
  admitted: Admitted & { issuer: { resource: IssuerResource } };
  contents: SecretContents;
}

/** How long a turn is kept for the Certificate told it has one. */
const KEPT_TURN_MS = 5000;

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
    request: CertificateRequest,
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
    this.done = issuer.issue(request, issueCtx).then(
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
 * The attempts under way, at most one per Certificate and at most `concurrency` at once (as
 * cert-manager bounds the challenges it works on): a Certificate due while none is free
 * waits its turn without holding a worker, and is queued again when one is its own.
 */
export class Attempts {
  private readonly byKey = new Map<string, IssuanceAttempt>();
  /** Turns taken: by attempts, and kept for the first in line until it comes. */
  private taken = 0;
  /** The Certificates waiting for a turn, in the order they came: how to queue each again. */
  private readonly waiting = new Map<string, () => void>();
  /** Turns kept for a Certificate told it has one, until it takes it or the wait lapses. */
  private readonly kept = new Map<string, NodeJS.Timeout>();

  constructor(private readonly concurrency: number) {}

  /** The attempt for `cert`'s name, whatever spec it issues for. */
  of(cert: Certificate | ObjectKey): IssuanceAttempt | undefined {
    return this.byKey.get(objectKey(cert));
  }

  /** Whether `cert` would get a turn now (one is free, or kept for it). */
  open(cert: Certificate): boolean {
    return this.taken < this.concurrency || this.kept.has(objectKey(cert));
  }

  /**
   * Takes a turn for an attempt of `cert`: true; or none is free, and `enqueue` is called
   * once one is kept for it: false.
   */
  claim(cert: Certificate, enqueue: () => void): boolean {
    const key = objectKey(cert);
    const kept = this.kept.get(key);
    if (kept) {
      clearTimeout(kept);
      this.kept.delete(key);
      return true;
    }
    if (this.taken >= this.concurrency) {
      this.line(cert, enqueue);
      return false;
    }
    this.waiting.delete(key);
    this.taken++;
    return true;
  }

  /** Puts `cert` in line for a turn (once), `enqueue` called when one is kept for it. */
  line(cert: Certificate, enqueue: () => void): void {
    const key = objectKey(cert);
    if (!this.waiting.has(key)) this.waiting.set(key, enqueue);
  }

  /**
   * Gives a turn back (its attempt's outcome taken, or it never started). The first in line
   * gets it, kept a while so that no other takes it first; unclaimed (no longer due), it is
   * passed on.
   */
  release(): void {
    const [next] = this.waiting;
    if (!next) {
      this.taken--;
      return;
    }
    const [key, enqueue] = next;
    this.waiting.delete(key);
    this.kept.set(key, setTimeout(() => this.lapse(key), KEPT_TURN_MS).unref());
    enqueue();
  }

  private lapse(key: string): void {
    if (this.kept.delete(key)) this.release();
  }

  /**
   * Holds `attempt`, in the turn claimed for it, until its outcome is taken: the turn covers
   * the Secret and status written at its end, as a worker would.
   */
  add(attempt: IssuanceAttempt): void {
    this.byKey.set(objectKey(attempt.cert), attempt);
  }

  /** `cert` was edited or deleted: the reconcile following its attempt lets go. */
  interrupt(cert: Certificate): void {
    this.of(cert)?.interrupt();
  }

  /** Forgets `cert`'s attempt (its outcome taken), giving its turn back. */
  forget(cert: Certificate | ObjectKey): void {
    if (this.byKey.delete(objectKey(cert))) this.release();
  }

  /**
   * Stops `cert`'s attempt, if any, and waits until it has ended (its clean-up done); a
   * turn it waits for is not its any more.
   */
  async stop(cert: Certificate | ObjectKey, reason: string): Promise<void> {
    const key = objectKey(cert);
    this.waiting.delete(key);
    clearTimeout(this.kept.get(key));
    this.lapse(key);
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
}
