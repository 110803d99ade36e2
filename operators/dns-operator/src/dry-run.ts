import type { ApplyResult, Change, Provider, Zone } from '@chousei/dns';
import type { Logger } from '@chousei/runtime';

/**
 * Reads through to the real provider; logs the changes it would make instead of making
 * them, and hands each to `onChange` when given (a plan collects them).
 */
export class DryRunProvider implements Provider {
  readonly name: string;
  readonly capabilities: Provider['capabilities'];

  constructor(
    private readonly inner: Provider,
    private readonly log: Logger,
    private readonly onChange?: (zone: Zone, change: Change) => void,
  ) {
    this.name = `${inner.name} (dry run)`;
    this.capabilities = inner.capabilities;
  }

  zones(signal?: AbortSignal): Promise<Zone[]> {
    return this.inner.zones(signal);
  }

  records(zone: Zone, signal?: AbortSignal) {
    return this.inner.records(zone, signal);
  }

  async apply(zone: Zone, changes: Change[]): Promise<ApplyResult> {
    for (const c of changes) {
      this.log.info(
        {
          zone: zone.name,
          action: c.action,
          name: c.record.name,
          type: c.record.type,
          values: c.record.values,
          ...(c.action === 'update' ? { oldValues: c.old.values } : {}),
        },
        'dry run: would change',
      );
      this.onChange?.(zone, c);
    }
    // Reported as applied so the cache moves on and the plan is logged once.
    return { applied: changes, failed: [] };
  }
}
