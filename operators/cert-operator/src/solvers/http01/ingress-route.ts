import { type Ingress, Ingresses } from '@chousei/runtime';
import { type ChallengeRoute, challengePath } from './routed.js';

/**
 * A temporary Ingress in the class the solver names: pathType Exact, so no ingress
 * controller rewrites or widens it.
 */
export function ingressRoute(ingressClassName: string | undefined): ChallengeRoute<Ingress> {
  return {
    resource: Ingresses,
    build: (ch, metadata, service) => ({
      metadata,
      spec: {
        ...(ingressClassName ? { ingressClassName } : {}),
        rules: [
          {
            host: ch.identifier,
            http: {
              paths: [
                {
                  path: challengePath(ch),
                  pathType: 'Exact',
                  backend: { service: { name: service.name, port: { number: service.port } } },
                },
              ],
            },
          },
        ],
      },
    }),
  };
}
