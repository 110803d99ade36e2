// No Gateway controller runs in tests: these set Gateway, ListenerSet and route status as
// one would (addresses, Accepted conditions), so the operators see what they would see.
import { isIP } from 'node:net';
import type { Client } from '../client/client.js';
import {
  type GatewayRoute,
  type GatewayStatusAddress,
  Gateways,
  ListenerSets,
  type ParentReference,
} from '../client/gateway-api.js';
import type { ResourceType } from '../client/resource.js';
import type { Condition, ObjectKey } from '../client/types.js';

/** The controller name test status is written under. */
export const TEST_GATEWAY_CONTROLLER = 'chousei.dev/test-gateway-controller';

function condition(type: string, accepted: boolean): Condition {
  return {
    type,
    status: accepted ? 'True' : 'False',
    reason: accepted ? 'Accepted' : 'NotAllowedByListeners',
    message: accepted ? 'accepted by the test' : 'refused by the test',
    lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

/**
 * Sets a Gateway's status.addresses: IPs as IPAddress, anything else as Hostname. An empty
 * list is a Gateway that lost its addresses.
 */
export function setGatewayAddresses(client: Client, key: ObjectKey, addresses: string[]) {
  const list: GatewayStatusAddress[] = addresses.map((value) => ({
    type: isIP(value) ? 'IPAddress' : 'Hostname',
    value,
  }));
  return client.patchStatus(Gateways, key, {
    type: 'merge',
    patch: { status: { addresses: list } },
  });
}

/**
 * Sets a route's status.parents: one entry per parent (default every spec.parentRefs
 * entry), Accepted as `accepted` says, for all or per parent (default true). No parents:
 * detached.
 */
export async function setRouteParents<T extends GatewayRoute>(
  client: Client,
  rt: ResourceType<T>,
  key: ObjectKey,
  opts: {
    parents?: ParentReference[];
    accepted?: boolean | ((parent: ParentReference) => boolean);
  } = {},
): Promise<T> {
  // Given parents need no read of the route (benchmarks accept thousands).
  const refs = opts.parents ?? (await client.get(rt, key)).spec?.parentRefs ?? [];
  const { accepted = true } = opts;
  const parents = refs.map((parentRef) => ({
    parentRef,
    controllerName: TEST_GATEWAY_CONTROLLER,
    conditions: [
      condition('Accepted', typeof accepted === 'function' ? accepted(parentRef) : accepted),
    ],
  }));
  return client.patchStatus(rt, key, { type: 'merge', patch: { status: { parents } } });
}

/**
 * Sets a ListenerSet's status: Accepted as `accepted` says (default true), and each of its
 * listeners Accepted unless named in `refused`.
 */
export async function setListenerSetStatus(
  client: Client,
  key: ObjectKey,
  opts: { accepted?: boolean; refused?: string[] } = {},
) {
  const ls = await client.get(ListenerSets, key);
  const listeners = (ls.spec?.listeners ?? []).map((l) => ({
    name: l.name,
    attachedRoutes: 0,
    conditions: [condition('Accepted', !opts.refused?.includes(l.name))],
  }));
  return client.patchStatus(ListenerSets, key, {
    type: 'merge',
    patch: { status: { conditions: [condition('Accepted', opts.accepted ?? true)], listeners } },
  });
}
