import { sleep } from '@chousei/runtime';
import { IssuanceError } from '../issuance.js';
import { type Challenge, selfCheckPrefix } from './solver.js';

/** The wait before the next check, given the ms left until the deadline; undefined gives up. */
export type Pacing = (remainingMs: number) => number | undefined;

/** What a self-check does and says; the loop, deadline and progress reports are shared. */
export interface SelfCheck {
  type: 'HTTP-01' | 'DNS-01';
  /** One check: undefined once the answer is there as the CA will see it, else what is seen. */
  check: () => Promise<string | undefined>;
  timeoutMs: number;
  /** Made for each wait: it may keep state between checks. */
  pacing: Pacing;
  /**
   * Wording of the SelfCheckPending message, `<prefix> <pending(seen)>; the CA is asked to
   * validate once <awaited> (waiting up to N s)`, sent when what is seen changes.
   */
  pending: (seen: string) => string;
  awaited: string;
  /** SelfCheckPassed, `<prefix> <passed> (after N s); asking the CA to validate`. */
  passed: string;
  /** Reason and message of the (retryable) IssuanceError thrown at the deadline. */
  timeoutReason: string;
  timedOut: (seen: string, seconds: number, checks: number) => string;
  logPending?: (seen: string) => void;
  /** `waited`: a pending report was sent. */
  logPassed: (done: { checks: number; ms: number; waited: boolean }) => void;
}

/** Fixed waits; gives up when the next one would end past the deadline. */
export const fixedPacing =
  (ms: number): Pacing =>
  (remaining) =>
    remaining < ms ? undefined : ms;

/** Waits growing by half from `first` up to `max`; the last check falls at the deadline. */
export function growingPacing(first: number, max: number): Pacing {
  let delay = first;
  return (remaining) => {
    if (remaining <= 0) return undefined;
    const wait = Math.min(delay, remaining);
    delay = Math.min(delay * 1.5, max);
    return wait;
  };
}

/**
 * Checks until `sc.check` sees the answer, telling ch.progress what is seen meanwhile, so a
 * solver's present() returns only once the CA can validate; throws at the deadline.
 */
export async function waitForSelfCheck(ch: Challenge, sc: SelfCheck): Promise<void> {
  const prefix = selfCheckPrefix(sc.type);
  const started = Date.now();
  const seconds = () => Math.round((Date.now() - started) / 1000);
  let reported: string | undefined;
  // Nothing is submitted yet: a stopping operator ends the wait, its successor starts over.
  const waits = ch.stopping ?? ch.signal;
  for (let checks = 1; ; checks++) {
    const seen = await sc.check();
    waits?.throwIfAborted();
    if (seen === undefined) {
      const waited = reported !== undefined;
      sc.logPassed({ checks, ms: Date.now() - started, waited });
      // A wait that was reported is reported over.
      if (waited) {
        ch.progress?.({
          subject: ch.identifier,
          reason: 'SelfCheckPassed',
          message: `${prefix} ${sc.passed} (after ${seconds()} s); asking the CA to validate`,
        });
      }
      return;
    }
    // Reported when it changes (a 404 after NXDOMAIN, fewer servers missing), not every check.
    if (seen !== reported) {
      reported = seen;
      sc.logPending?.(seen);
      ch.progress?.({
        subject: ch.identifier,
        reason: 'SelfCheckPending',
        message: `${prefix} ${sc.pending(seen)}; the CA is asked to validate once ${sc.awaited} (waiting up to ${Math.round(sc.timeoutMs / 1000)} s)`,
      });
    }
    const wait = sc.pacing(started + sc.timeoutMs - Date.now());
    if (wait === undefined) {
      throw new IssuanceError(sc.timeoutReason, sc.timedOut(seen, seconds(), checks), true);
    }
    await sleep(wait, waits);
    waits?.throwIfAborted();
  }
}
