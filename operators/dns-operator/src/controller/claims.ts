import type { KubeObject } from '@chousei/runtime';
import type { Endpoint, SourceResult } from '../sources/endpoint.js';

/** An object claiming DNS names, with what its source made of it. */
export interface Claimant {
  obj: KubeObject;
  /** `ingress/ns/name`: the resource label written into ownership records. */
  resource: string;
  result: SourceResult;
}

export function resourceLabel(kind: string, obj: KubeObject): string {
  return `${kind.toLowerCase()}/${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

/** Oldest first, then by resource: the deterministic order that decides conflicts. */
export function byAge(a: Claimant, b: Claimant): number {
  const ta = a.obj.metadata?.creationTimestamp ?? '';
  const tb = b.obj.metadata?.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : 0;
}

/** One endpoint per type for a name, merged across claimants, and who lost and why. */
export interface MergedName {
  endpoints: Array<{ endpoint: Endpoint; claimant: Claimant }>;
  losers: Array<{ claimant: Claimant; endpoint: Endpoint; reason: string }>;
}

/**
 * Merges what several objects ask for one name. Same type: targets merge into one record
 * set (one host behind several Ingresses, or a Service and an Ingress on one load
 * balancer); the oldest claimant's TTL wins. Types that cannot share a name (CNAME with
 * anything, two CNAME targets): the oldest claimant wins, the others lose.
 */
export function mergeClaims(name: string, claimants: Claimant[]): MergedName {
  const merged: MergedName = { endpoints: [], losers: [] };
  const byType = new Map<string, { endpoint: Endpoint; claimant: Claimant }>();
  for (const claimant of [...claimants].sort(byAge)) {
    for (const ep of claimant.result.endpoints) {
      if (ep.name !== name) continue;
      const cnameTaken = byType.get('CNAME');
      if (ep.type === 'CNAME' && byType.size > 0 && !cnameTaken) {
        const [other] = byType.values();
        merged.losers.push({
          claimant,
          endpoint: ep,
          reason: `${name} already has ${other!.endpoint.type} records for ${other!.claimant.resource}, and a CNAME must be alone at its name`,
        });
        continue;
      }
      if (ep.type !== 'CNAME' && cnameTaken) {
        merged.losers.push({
          claimant,
          endpoint: ep,
          reason: `${name} is a CNAME for ${cnameTaken.claimant.resource}, which must be alone at its name`,
        });
        continue;
      }
      const same = byType.get(ep.type);
      if (!same) {
        byType.set(ep.type, { endpoint: { ...ep, targets: [...ep.targets] }, claimant });
        continue;
      }
      if (ep.type === 'CNAME') {
        if (same.endpoint.targets.join() !== ep.targets.join()) {
          merged.losers.push({
            claimant,
            endpoint: ep,
            reason: `${name} is already a CNAME to ${same.endpoint.targets.join()} for ${same.claimant.resource}`,
          });
        }
        continue;
      }
      same.endpoint.targets = [...new Set([...same.endpoint.targets, ...ep.targets])].sort();
    }
  }
  merged.endpoints = [...byType.values()];
  return merged;
}
