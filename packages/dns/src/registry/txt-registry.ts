import {
  type Change,
  inZone,
  RECORD_TYPES,
  type RecordSet,
  type RecordType,
  recordKey,
  sameRecord,
} from '../records.js';

/** Who owns a record, as its ownership TXT says. */
export interface Ownership {
  owner: string;
  /** `kind/namespace/name` of the object that asked for the record, e.g. `ingress/web/shop`. */
  resource?: string;
  /** The TXT record that says so (new format `a-www...`, or the legacy same-name one). */
  txt: RecordSet;
}

/** A managed record with its ownership, if any TXT claims it. */
export interface OwnedRecord {
  record: RecordSet;
  ownership?: Ownership | undefined;
}

/** A zone's records split into the records themselves and the ownership TXT records. */
export interface ZoneView {
  zone: string;
  /** Every record that is not an ownership TXT, by `name/TYPE`. */
  records: Map<string, OwnedRecord>;
  /** Ownership TXT records, by `name/TXT`. */
  registry: Map<string, RecordSet>;
  /**
   * How many records each object owns through our owner id, by its resource
   * (`ingress/ns/name`, external-dns's `crd/` read as `dnsendpoint/`; '' for none): whether
   * an object still holds records, found by key rather than by a scan of the zone.
   */
  owned: Map<string, number>;
}

/** The records at one name (ownership TXTs aside), found by key rather than by a scan. */
export function recordsAt(view: ZoneView, name: string): OwnedRecord[] {
  const out: OwnedRecord[] = [];
  for (const type of RECORD_TYPES) {
    const owned = view.records.get(`${name}/${type}`);
    if (owned) out.push(owned);
  }
  return out;
}

/**
 * The names whose records differ between two reads of one zone (a record, its values or
 * its ownership); undefined when an ownership TXT changed, which may relabel any record.
 * A resync looks again only at these: the others hold what the cache said they hold.
 */
export function namesChanged(before: ZoneView, after: ZoneView): Set<string> | undefined {
  if (!sameEntries(before.registry, after.registry, sameRecord)) return undefined;
  const changed = new Set<string>();
  const sameOwned = (a: OwnedRecord, b: OwnedRecord) =>
    sameRecord(a.record, b.record) &&
    a.ownership?.owner === b.ownership?.owner &&
    a.ownership?.resource === b.ownership?.resource;
  for (const [key, owned] of after.records) {
    const old = before.records.get(key);
    if (!old || !sameOwned(old, owned)) changed.add(owned.record.name);
  }
  for (const [key, old] of before.records)
    if (!after.records.has(key)) changed.add(old.record.name);
  return changed;
}

function sameEntries<V>(a: Map<string, V>, b: Map<string, V>, same: (x: V, y: V) => boolean) {
  if (a.size !== b.size) return false;
  for (const [key, value] of a) {
    const other = b.get(key);
    if (other === undefined || !same(value, other)) return false;
  }
  return true;
}

export interface TxtRegistryOptions {
  /** This instance's owner id (external-dns `--txt-owner-id`): reuse it to take a zone over. */
  ownerId: string;
  /** Put before the type-prefixed name; may contain `%{record_type}`. A trailing `.` makes it a label. */
  prefix?: string;
  /** Put after the first label; may contain `%{record_type}`. */
  suffix?: string;
  /** Replaces a leading `*` in ownership record names (wildcards cannot carry a prefix). */
  wildcardReplacement?: string;
  /** TTL of ownership records. Default 300. */
  ttl?: number;
}

const HERITAGE = 'heritage=external-dns';
const RECORD_TYPE = '%{record_type}';

/**
 * Whether two ownership resources name the same object: external-dns labels DNSEndpoint
 * records `crd/NS/NAME`, the dns-operator `dnsendpoint/NS/NAME`, and taking a record over
 * must not rewrite its mark for that alone.
 */
export function sameResource(a: string | undefined, b: string | undefined): boolean {
  return canonicalResource(a) === canonicalResource(b);
}

function canonicalResource(r: string | undefined): string | undefined {
  return r?.replace(/^crd\//, 'dnsendpoint/');
}

function fillType(affix: string, type: string): string {
  return affix.replaceAll(RECORD_TYPE, type);
}

/**
 * Ownership in TXT records, in the format external-dns reads and writes: beside each
 * record a TXT named after its type (`a-www.example.com`, `cname-api.example.com`) holding
 * `heritage=external-dns,external-dns/owner=ID,external-dns/resource=KIND/NS/NAME`. The
 * legacy same-name TXT of old external-dns releases is read too. A record without a TXT
 * naming our owner id is never ours to change.
 */
export class TxtRegistry {
  readonly ownerId: string;
  private readonly ttl: number;
  // external-dns lower-cases the affixes (names are read lower-case) and refuses both at once.
  private readonly prefix: string;
  private readonly suffix: string;
  private readonly wildcardReplacement: string;
  private readonly typeInAffix: boolean;

  constructor(opts: TxtRegistryOptions) {
    if (!opts.ownerId || /[,=\s"]/.test(opts.ownerId)) {
      throw new Error(
        `ownerId "${opts.ownerId}" must be non-empty without commas, '=', quotes or spaces`,
      );
    }
    if (opts.prefix && opts.suffix)
      throw new Error('prefix and suffix exclude each other (as --txt-prefix and --txt-suffix)');
    this.ownerId = opts.ownerId;
    this.ttl = opts.ttl ?? 300;
    this.prefix = (opts.prefix ?? '').toLowerCase();
    this.suffix = (opts.suffix ?? '').toLowerCase();
    this.wildcardReplacement = (opts.wildcardReplacement ?? '').toLowerCase();
    this.typeInAffix = `${this.prefix}${this.suffix}`.includes(RECORD_TYPE);
  }

  /**
   * The name of the ownership TXT for a record (new format), as external-dns v0.22's
   * AffixNameMapper.ToTXTName names it: `<prefix><type>-<first label><suffix>.<rest>`, the
   * `<type>-` left out when either affix holds `%{record_type}`. At a zone apex that name
   * would fall outside the zone, so the type goes into a label of its own there
   * (`a-.example.com`), where external-dns writes nothing it could read back.
   */
  txtName(name: string, type: RecordType, zone: string): string {
    const t = type.toLowerCase();
    const typed = this.typeInAffix ? '' : `${t}-`;
    const candidate = this.affixed(name, t, typed);
    if (inZone(candidate, zone)) return candidate;
    const prefix = fillType(this.prefix, t);
    return `${prefix}${typed}${fillType(this.suffix, t)}.${name}`.replace(/\.\./g, '.');
  }

  /**
   * The legacy (typeless) ownership TXT name of a record: what external-dns before v0.12
   * wrote, read by its AffixNameMapper.ToEndpointName as a mark for every type but AAAA
   * (the affixes without `%{record_type}`; without affixes, the record's own name).
   */
  legacyTxtName(name: string): string {
    return this.affixed(name, '', '');
  }

  /** `<prefix><typed><first label><suffix>.<rest>`, `%{record_type}` filled with `t`. */
  private affixed(name: string, t: string, typed: string): string {
    const dot = name.indexOf('.');
    let [first, rest] = dot < 0 ? [name, ''] : [name.slice(0, dot), name.slice(dot)];
    if (first === '*' && this.wildcardReplacement) first = this.wildcardReplacement;
    return `${fillType(this.prefix, t)}${typed}${first}${fillType(this.suffix, t)}${rest}`;
  }

  /** The TXT value for an owner and resource. */
  encode(resource?: string, owner = this.ownerId): string {
    return [
      HERITAGE,
      `external-dns/owner=${owner}`,
      ...(resource ? [`external-dns/resource=${resource}`] : []),
    ].join(',');
  }

  /** Parses a TXT value; undefined when it is not an ownership record. */
  decode(value: string): { owner: string; resource?: string } | undefined {
    const text = value.replace(/^"|"$/g, '');
    if (!text.startsWith(HERITAGE)) return undefined;
    const labels = new Map<string, string>();
    for (const part of text.split(',')) {
      const eq = part.indexOf('=');
      if (eq > 0) labels.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
    const owner = labels.get('external-dns/owner');
    if (owner === undefined) return undefined;
    const resource = labels.get('external-dns/resource');
    return resource ? { owner, resource } : { owner };
  }

  /** Splits a zone listing into records with their ownership, and the ownership TXTs. */
  read(zone: string, listing: RecordSet[]): ZoneView {
    const view: ZoneView = { zone, records: new Map(), registry: new Map(), owned: new Map() };
    for (const r of listing) this.place(view, r);
    for (const owned of view.records.values()) this.label(view, owned);
    return view;
  }

  /**
   * Folds applied changes into `view`, as read() would see the zone after them, without
   * splitting the whole zone again: only the changed records are labelled again, unless
   * an ownership TXT changed apart from its record (then every record is).
   */
  update(view: ZoneView, applied: Change[]): void {
    const placed: OwnedRecord[] = [];
    const marks = new Set<string>();
    const covered = new Set<string>();
    const cover = (r: RecordSet) => covered.add(`${this.txtName(r.name, r.type, view.zone)}/TXT`);
    for (const c of applied) {
      const gone = c.action === 'update' ? c.old : c.action === 'delete' ? c.record : undefined;
      if (gone) {
        const key = recordKey(gone);
        if (view.registry.delete(key)) marks.add(key);
        else if (this.drop(view, key)) cover(gone);
      }
      if (c.action === 'delete') continue;
      const owned = this.place(view, c.record);
      if (owned) {
        placed.push(owned);
        cover(c.record);
      } else marks.add(recordKey(c.record));
    }
    // A mark of another name than the changed records' own (a legacy or an alias's `cname-`
    // one) may vouch for other records: all again.
    const everyRecord = [...marks].some((key) => !covered.has(key));
    for (const owned of everyRecord ? view.records.values() : placed) this.label(view, owned);
  }

  /** Files a record under the ownership TXTs or the records; the latter are returned. */
  private place(view: ZoneView, record: RecordSet): OwnedRecord | undefined {
    if (this.labelOf(record)) {
      view.registry.set(recordKey(record), record);
      return undefined;
    }
    const owned: OwnedRecord = { record };
    const key = recordKey(record);
    this.drop(view, key);
    view.records.set(key, owned);
    return owned;
  }

  /** Removes a record from the view and from the count of its owner; whether it was there. */
  private drop(view: ZoneView, key: string): boolean {
    const owned = view.records.get(key);
    if (!owned) return false;
    this.count(view, owned.ownership, -1);
    return view.records.delete(key);
  }

  /** Counts (`by` 1) or uncounts (-1) a record of `ownership` among its object's records. */
  private count(view: ZoneView, ownership: Ownership | undefined, by: 1 | -1): void {
    if (ownership?.owner !== this.ownerId) return;
    const resource = canonicalResource(ownership.resource) ?? '';
    const n = (view.owned.get(resource) ?? 0) + by;
    if (n > 0) view.owned.set(resource, n);
    else view.owned.delete(resource);
  }

  /** Whether `view` holds a record we own that was published for `resource`. */
  holdsRecordsOf(view: ZoneView, resource: string): boolean {
    return view.owned.has(canonicalResource(resource) ?? '');
  }

  /**
   * Sets a record's ownership as external-dns v0.22's TXTRegistry.Records finds it: the TXT
   * of its type; for an alias A record, failing that, the `cname-` TXT older releases wrote
   * for aliases; failing that (not for AAAA), the legacy typeless TXT.
   */
  private label(view: ZoneView, owned: OwnedRecord): void {
    const { name, type } = owned.record;
    const names = [this.txtName(name, type, view.zone)];
    if (type === 'A' && owned.record.alias) names.push(this.txtName(name, 'CNAME', view.zone));
    const legacy = this.legacyTxtName(name);
    // A typeless mark at a TXT record's own name would be that record itself.
    if (type !== 'AAAA' && !(type === 'TXT' && legacy === name)) names.push(legacy);
    let ownership: Ownership | undefined;
    for (const txtName of names) ownership ??= this.markAt(view, txtName);
    this.count(view, owned.ownership, -1);
    this.count(view, ownership, 1);
    if (ownership) owned.ownership = ownership;
    else if (owned.ownership) owned.ownership = undefined;
  }

  private markAt(view: ZoneView, txtName: string): Ownership | undefined {
    const txt = view.registry.get(`${txtName}/TXT`);
    const label = txt && this.labelOf(txt);
    return label && { ...label, txt };
  }

  /** The ownership a TXT record states, if it is an ownership record. */
  private labelOf(record: RecordSet): { owner: string; resource?: string } | undefined {
    if (record.type !== 'TXT') return undefined;
    for (const value of record.values) {
      const label = this.decode(value);
      if (label) return label;
    }
    return undefined;
  }

  /** Whether a record is ours: its ownership TXT names our owner id. */
  owns(owned: OwnedRecord | undefined): boolean {
    return owned?.ownership?.owner === this.ownerId;
  }

  /**
   * Adds the ownership TXT changes to record changes, grouping each record with its TXT so
   * a provider applies them together: a record is never written without its owner mark,
   * and a mark never outlives its record.
   */
  withOwnership(
    zone: string,
    changes: Array<Change & { resource?: string }>,
    view: ZoneView,
  ): Change[] {
    const out: Change[] = [];
    for (const c of changes) {
      const { name, type } = c.record;
      const group = `${name}/${type}`;
      const txt = (resource?: string): RecordSet => ({
        name: this.txtName(name, type, zone),
        type: 'TXT',
        ttl: this.ttl,
        values: [this.encode(resource)],
      });
      const existingTxt = view.registry.get(`${this.txtName(name, type, zone)}/TXT`);
      if (c.action === 'create') {
        out.push({ ...strip(c), group });
        out.push(
          existingTxt
            ? { action: 'update', old: existingTxt, record: txt(c.resource), group }
            : { action: 'create', record: txt(c.resource), group },
        );
      } else if (c.action === 'update') {
        // Same record, new resource: only the ownership mark changes.
        if (!sameRecord(c.old, c.record)) out.push({ ...strip(c), group });
        const want = txt(c.resource);
        if (!existingTxt) out.push({ action: 'create', record: want, group });
        else if (!sameRecord(existingTxt, want))
          out.push({ action: 'update', old: existingTxt, record: want, group });
      } else {
        out.push({ ...strip(c), group });
        if (existingTxt) out.push({ action: 'delete', record: existingTxt, group });
        else {
          // An older mark (legacy, or an alias's `cname-`) may vouch for other records at
          // the name: keep it then.
          const legacy = view.records.get(recordKey(c.record))?.ownership?.txt;
          const others = recordsAt(view, name).some(
            (o) => o.record.type !== type && o.ownership?.txt === legacy,
          );
          if (legacy && !others) out.push({ action: 'delete', record: legacy, group });
        }
      }
    }
    return out;
  }
}

function strip(c: Change & { resource?: string }): Change {
  const { resource: _, ...change } = c;
  return change as Change;
}
