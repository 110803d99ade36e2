/** How often to ask an ACME CA again for its suggested renewal window: RFC 9773's example. */
export const DEFAULT_RENEWAL_INFO_INTERVAL_MS = 6 * 3_600_000;

/**
 * When to ask the CA again for its suggested renewal window (ACME Renewal Information,
 * RFC 9773) of each Certificate's current certificate: a CA moves the window forward when it
 * must revoke, and a client that asked only at issuance would miss it. Every `intervalMs`;
 * the first time at a random point within it, so a restart does not ask for every
 * certificate at once. In memory: after a restart, asking again is cheap.
 */
export class RenewalInfoSchedule {
  private readonly next = new Map<string, { certificate: string; at: number }>();

  constructor(
    readonly intervalMs = DEFAULT_RENEWAL_INFO_INTERVAL_MS,
    private readonly random = Math.random,
  ) {
    if (!(intervalMs > 0)) throw new Error(`intervalMs must be positive, got ${intervalMs}`);
  }

  /** Ms until the window of `certificate` (an ARI certificate ID) held by `key` is due. */
  dueIn(key: string, certificate: string, now = Date.now()): number {
    let entry = this.next.get(key);
    if (entry?.certificate !== certificate) {
      entry = { certificate, at: now + Math.floor(this.random() * this.intervalMs) };
      this.next.set(key, entry);
    }
    return Math.max(0, entry.at - now);
  }

  /** The window of `certificate` was just asked for (at issuance, or by a check). */
  asked(key: string, certificate: string, now = Date.now()): void {
    this.next.set(key, { certificate, at: now + this.intervalMs });
  }

  forget(key: string): void {
    this.next.delete(key);
  }
}
