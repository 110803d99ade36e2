// Where the first-sync guard remembers, across restarts and replicas, which zones were
// synced under which settings: a ConfigMap beside the operator's Lease, which is also what
// users annotate to confirm held deletes and what the guard's Events are about.
import {
  AlreadyExistsError,
  type Client,
  type ConfigMap,
  ConfigMaps,
  type Logger,
  notFoundIsUndefined,
} from '@chousei/runtime';

/** The annotation listing the zones (comma-separated, or `*`) whose held deletes may go. */
export const CONFIRM_ANNOTATION = 'dns.chousei.dev/confirm-deletes';

export interface FirstSyncSnapshot {
  /** Per zone, the settings (owner id, TXT naming) it last completed a sync under. */
  synced: Map<string, string>;
  /** Zones the user confirmed, or every zone. */
  confirmed: Set<string> | '*';
}

export interface FirstSyncState {
  /** What Events are about and users annotate; undefined when nothing is kept. */
  readonly object: ConfigMap | undefined;
  read(): Promise<FirstSyncSnapshot>;
  /** Records zones as synced under `settings`; `confirmed`: and drops the confirmation. */
  write(zones: string[], settings: string, confirmed: boolean): Promise<void>;
}

/** State that lasts as long as the process: each start is a first sync. */
export class MemoryFirstSyncState implements FirstSyncState {
  readonly object = undefined;
  private readonly synced = new Map<string, string>();

  async read(): Promise<FirstSyncSnapshot> {
    return { synced: new Map(this.synced), confirmed: new Set() };
  }

  async write(zones: string[], settings: string): Promise<void> {
    for (const zone of zones) this.synced.set(zone, settings);
  }
}

/**
 * State in a ConfigMap: `data` maps each zone to the settings it was synced under. Read with
 * a GET when the guard needs it (at the first pass, and while deletes are held), so nothing
 * is watched; a failed read counts as no state (every zone then syncs as a first time).
 * `readOnly` (plans): read, never written.
 */
export class ConfigMapFirstSyncState implements FirstSyncState {
  readonly object: ConfigMap;
  private exists: boolean | undefined;

  constructor(
    private readonly client: Client,
    namespace: string,
    name: string,
    private readonly log: Logger,
    private readonly readOnly = false,
  ) {
    this.object = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace, name } };
  }

  private get key() {
    return {
      namespace: this.object.metadata?.namespace ?? '',
      name: this.object.metadata?.name ?? '',
    };
  }

  async read(): Promise<FirstSyncSnapshot> {
    let cm: ConfigMap | undefined;
    try {
      cm = await this.client.get(ConfigMaps, this.key).catch(notFoundIsUndefined);
    } catch (err) {
      this.log.warn(
        { err: (err as Error).message, configMap: `${this.key.namespace}/${this.key.name}` },
        'first-sync state not read: every zone syncs as a first time',
      );
      return { synced: new Map(), confirmed: new Set() };
    }
    this.exists = cm !== undefined;
    const listed = (cm?.metadata?.annotations?.[CONFIRM_ANNOTATION] ?? '')
      .split(',')
      .map((z) => z.trim().toLowerCase().replace(/\.$/, ''))
      .filter(Boolean);
    return {
      synced: new Map(Object.entries(cm?.data ?? {})),
      confirmed: listed.includes('*') ? '*' : new Set(listed),
    };
  }

  /** Also creates the ConfigMap with no zone: there must be something to annotate. */
  async write(zones: string[], settings: string, confirmed: boolean): Promise<void> {
    if (this.readOnly || (!zones.length && this.exists !== false)) return;
    const data = Object.fromEntries(zones.map((z) => [z, settings]));
    if (this.exists === false) {
      try {
        await this.client.create(ConfigMaps, { metadata: this.key, data });
        this.exists = true;
        return;
      } catch (err) {
        if (!(err instanceof AlreadyExistsError)) throw err;
      }
    }
    await this.client.patch(ConfigMaps, this.key, {
      type: 'merge',
      patch: {
        data,
        ...(confirmed ? { metadata: { annotations: { [CONFIRM_ANNOTATION]: null } } } : {}),
      },
    });
    this.exists = true;
  }
}
