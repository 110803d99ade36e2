import { isIP } from 'node:net';
import { type HTTPRoute, HTTPRoutes, type ParentReference } from '@chousei/runtime';
import { type ChallengeRoute, challengePath } from './routed.js';

/**
 * A temporary HTTPRoute (cert-manager's gatewayHTTPRoute solver) attached to `parentRefs`:
 * an Exact path match on the challenged host to the solver Service. It lives in the
 * operator's namespace, beside the Service: the Gateway listeners must admit routes from
 * there (allowedRoutes). An IP address is no HTTPRoute hostname: then any host matches.
 */
export function httpRoute(parentRefs: ParentReference[]): ChallengeRoute<HTTPRoute> {
  return {
    resource: HTTPRoutes,
    build: (ch, metadata, service) => ({
      metadata,
      spec: {
        parentRefs,
        ...(isIP(ch.identifier) ? {} : { hostnames: [ch.identifier] }),
        rules: [
          {
            matches: [{ path: { type: 'Exact', value: challengePath(ch) } }],
            backendRefs: [{ name: service.name, port: service.port }],
          },
        ],
      },
    }),
  };
}
