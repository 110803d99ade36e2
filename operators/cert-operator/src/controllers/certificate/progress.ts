import { type EventRecorder, type ObjectContext, setCondition } from '@chousei/runtime';
import type { Certificate, CertificateStatus } from '../../api/types.js';
import type { IssuanceProgress } from '../../issuance.js';
import type { IssuanceNeed } from '../policy.js';

/**
 * The status of an issuance under way, as written before it ends (its ACME order, what it
 * waits for), one write after the other: the final status builds on the last.
 */
export class IssuanceStatus {
  private writes = Promise.resolve();
  private latest = new Map<string, string>();
  private open = true;

  constructor(
    private readonly cert: Certificate,
    /** The status so far: the Certificate's, then each write's. */
    public current: CertificateStatus,
    private readonly need: IssuanceNeed,
    private readonly ctx: ObjectContext<Certificate>,
    private readonly events: EventRecorder,
  ) {}

  /** Sets `changes` (undefined removes a member) and writes the status, after earlier writes. */
  write(changes: CertificateStatus): Promise<void> {
    this.current = { ...this.current, ...changes };
    const status = this.current;
    const written = this.writes.then(() => this.ctx.writeStatus(status));
    this.writes = written.catch(() => undefined);
    return written;
  }

  /**
   * Tells on the Certificate what its issuance waits for: each report is an Event, and the
   * Issuing message lists each subject's latest one (the reason stays: ManuallyTriggered must
   * survive a restart). Never throws, never waits.
   */
  report = (p: IssuanceProgress): void => {
    if (!this.open) return;
    this.events.event(this.cert, 'Normal', p.reason, 'Issue', p.message);
    this.latest.set(p.subject, p.message);
    const conditions = setCondition(this.current.conditions, {
      type: 'Issuing',
      status: 'True',
      reason: this.need.reason,
      message: [...this.latest.values()].join('; '),
    }).conditions;
    this.write({ conditions }).catch((err: unknown) =>
      this.ctx.log.warn({ err: (err as Error).message }, 'could not report issuance progress'),
    );
  };

  /** No more reports: waits for the writes made, so none lands after the final status. */
  close(): Promise<void> {
    this.open = false;
    return this.writes;
  }
}
