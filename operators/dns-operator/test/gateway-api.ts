// Gateway API objects for the dns-operator's tests, with the status a Gateway controller
// would write (none runs here): Gateways with addresses, routes accepted by their parents.
import {
  type Client,
  type Gateway,
  type GatewayRoute,
  type GatewayRouteType,
  Gateways,
  type Listener,
  type ListenerSet,
  ListenerSets,
  type ParentReference,
} from '@chousei/runtime';
import {
  setGatewayAddresses,
  setListenerSetStatus,
  setRouteParents,
} from '@chousei/runtime/testing';

/**
 * Watches a name through a switch-over: `answers` is asked every few milliseconds until
 * `stop`, which tells whether it ever said no (a gap in the name's records).
 */
export function watchForGap(answers: () => Promise<boolean>): { stop(): Promise<boolean> } {
  let gap = false;
  let watching = true;
  const watch = (async () => {
    while (watching) {
      if (!(await answers())) gap = true;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    async stop() {
      watching = false;
      await watch;
      return gap;
    },
  };
}

/** A backend for the kinds whose rules require one (TLS, TCP, UDP routes). */
export const BACKEND = [{ backendRefs: [{ name: 'backend', port: 443 }] }];

/** An HTTPS listener (Terminate, as v1 requires) for `hostname`. */
export function https(name: string, hostname?: string, secret = `${name}-tls`): Listener {
  return {
    name,
    port: 443,
    protocol: 'HTTPS',
    ...(hostname ? { hostname } : {}),
    tls: { mode: 'Terminate', certificateRefs: [{ name: secret }] },
  };
}

export function http(name: string, hostname?: string): Listener {
  return { name, port: 80, protocol: 'HTTP', ...(hostname ? { hostname } : {}) };
}

export class GatewayApi {
  constructor(
    readonly client: Client,
    readonly namespace: string,
    /** Labels every route gets (an operator's label filter). */
    readonly labels: Record<string, string> = {},
  ) {}

  /** A Gateway with these listeners and, when given, status.addresses. */
  async gateway(
    name: string,
    listeners: Listener[],
    opts: {
      addresses?: string[];
      annotations?: Record<string, string>;
      spec?: Partial<Gateway['spec']>;
      namespace?: string;
    } = {},
  ): Promise<Gateway> {
    const namespace = opts.namespace ?? this.namespace;
    const gw = await this.client.create(Gateways, {
      metadata: { name, namespace, ...(opts.annotations ? { annotations: opts.annotations } : {}) },
      spec: { gatewayClassName: 'test', listeners, ...opts.spec },
    });
    if (opts.addresses)
      return setGatewayAddresses(this.client, { namespace, name }, opts.addresses);
    return gw;
  }

  /** A ListenerSet of the Gateway `parent`, Accepted with all its listeners. */
  async listenerSet(
    name: string,
    parent: { name: string; namespace?: string },
    listeners: Listener[],
    opts: { annotations?: Record<string, string>; namespace?: string } = {},
  ): Promise<ListenerSet> {
    const namespace = opts.namespace ?? this.namespace;
    await this.client.create(ListenerSets, {
      metadata: { name, namespace, ...(opts.annotations ? { annotations: opts.annotations } : {}) },
      spec: { parentRef: parent, listeners },
    });
    return setListenerSetStatus(this.client, { namespace, name });
  }

  /**
   * A route of kind `rt` attached to `parentRefs`, accepted by them unless `accepted` says
   * otherwise, for all or per parent (then its status says it was refused).
   */
  async route(
    rt: GatewayRouteType,
    name: string,
    spec: GatewayRoute['spec'],
    opts: {
      annotations?: Record<string, string>;
      accepted?: boolean | ((parent: ParentReference) => boolean);
      namespace?: string;
    } = {},
  ): Promise<GatewayRoute> {
    const namespace = opts.namespace ?? this.namespace;
    await this.client.create(rt, {
      metadata: {
        name,
        namespace,
        labels: this.labels,
        ...(opts.annotations ? { annotations: opts.annotations } : {}),
      },
      spec,
    });
    return setRouteParents(
      this.client,
      rt,
      { namespace, name },
      {
        ...(opts.accepted === undefined ? {} : { accepted: opts.accepted }),
      },
    );
  }

  /** Detaches a route: no parents in its spec or status. */
  async detach(rt: GatewayRouteType, name: string, namespace = this.namespace): Promise<void> {
    await this.client.patch(
      rt,
      { namespace, name },
      {
        type: 'merge',
        patch: { spec: { parentRefs: [] as ParentReference[] } },
      },
    );
    await setRouteParents(this.client, rt, { namespace, name }, { parents: [] });
  }
}
