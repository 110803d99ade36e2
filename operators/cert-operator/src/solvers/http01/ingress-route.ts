import { createHash } from 'node:crypto';
import {
  type Cache,
  type Client,
  type InformerScope,
  type Ingress,
  Ingresses,
  isNotFound,
  type Logger,
} from '@chousei/runtime';
import type { Challenge, Solver } from '../solver.js';

/** The Service (in the operator's namespace) that reaches the operator's challenge server. */
export interface SolverService {
  namespace: string;
  name: string;
  port: number;
}

export const LABEL_HTTP01 = 'cert.chousei.dev/http01-solver';
/**
 * The key authorization on the temporary Ingress: every replica's challenge server can
 * answer from its Ingress cache, whichever one the Service picks. (It is no secret: the
 * challenge server hands it to anyone who asks.)
 */
export const ANNOTATION_KEY_AUTHORIZATION = 'cert.chousei.dev/http01-key-authorization';

/**
 * Looks a token up on the temporary Ingresses another replica made, from the cache: the
 * informer of `scope`, the operator's one Ingress informer, which holds `namespace`.
 */
export function keyAuthorizationFromIngresses(
  cache: Cache,
  namespace: string,
  scope: InformerScope,
) {
  return async (token: string): Promise<string | undefined> => {
    const routes = await cache.list(
      Ingresses,
      { namespace, labelSelector: `${LABEL_HTTP01}=true` },
      scope,
    );
    return routes
      .map((i) => i.metadata?.annotations?.[ANNOTATION_KEY_AUTHORIZATION])
      .find((keyAuth) => keyAuth?.startsWith(`${token}.`));
  };
}

/**
 * HTTP-01 inside a cluster: the challenge server answers, and a temporary Ingress routes
 * exactly `/.well-known/acme-challenge/TOKEN` on the challenged host to it (pathType Exact,
 * so no ingress controller rewrites or widens it), in the ingress class the solver names.
 * The Ingress goes as soon as the challenge is done.
 */
export class IngressRoutedSolver implements Solver {
  readonly type = 'http-01';

  constructor(
    private readonly server: Solver,
    private readonly client: Client,
    private readonly service: SolverService,
    private readonly ingressClassName: string | undefined,
    private readonly log: Logger,
  ) {}

  private ingressName(ch: Challenge): string {
    const hash = createHash('sha256')
      .update(`${ch.identifier}/${ch.token}`)
      .digest('hex')
      .slice(0, 10);
    return `chousei-acme-http01-${hash}`;
  }

  async present(ch: Challenge): Promise<void> {
    await this.server.present(ch);
    const ingress: Ingress = {
      metadata: {
        name: this.ingressName(ch),
        namespace: this.service.namespace,
        labels: { [LABEL_HTTP01]: 'true' },
        annotations: { [ANNOTATION_KEY_AUTHORIZATION]: ch.keyAuthorization },
      },
      spec: {
        ...(this.ingressClassName ? { ingressClassName: this.ingressClassName } : {}),
        rules: [
          {
            host: ch.identifier,
            http: {
              paths: [
                {
                  path: `/.well-known/acme-challenge/${ch.token}`,
                  pathType: 'Exact',
                  backend: {
                    service: { name: this.service.name, port: { number: this.service.port } },
                  },
                },
              ],
            },
          },
        ],
      },
    };
    await this.client.apply(Ingresses, ingress, {
      fieldManager: 'chousei-cert-operator',
      force: true,
    });
    this.log.debug(
      { host: ch.identifier, ingress: ingress.metadata?.name },
      'routed HTTP-01 challenge',
    );
  }

  async cleanUp(ch: Challenge): Promise<void> {
    await this.client
      .delete(Ingresses, { namespace: this.service.namespace, name: this.ingressName(ch) })
      .catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    await this.server.cleanUp(ch);
  }
}
