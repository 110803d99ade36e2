import { createHash } from 'node:crypto';
import {
  type Cache,
  type Client,
  type InformerScope,
  isNotFound,
  type KubeObject,
  type Logger,
  type ResourceType,
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
 * The key authorization on the temporary route: every replica's challenge server can
 * answer from its cache, whichever one the Service picks. (It is no secret: the challenge
 * server hands it to anyone who asks.)
 */
export const ANNOTATION_KEY_AUTHORIZATION = 'cert.chousei.dev/http01-key-authorization';

/** What every temporary route carries: its name, the solver label, the key authorization. */
export interface RouteMetadata {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** A kind of temporary route that sends a challenge's path to the challenge server. */
export interface ChallengeRoute<T extends KubeObject> {
  resource: ResourceType<T>;
  build(ch: Challenge, metadata: RouteMetadata, service: SolverService): T;
}

/** The path a challenge is fetched at. */
export const challengePath = (ch: Challenge) => `/.well-known/acme-challenge/${ch.token}`;

/** A kind of temporary route in use, and the informer scope the operator reads it with. */
export interface RouteKind {
  resource: ResourceType;
  scope: InformerScope;
}

/**
 * The temporary routes every replica made, from the cache: for each route kind in use, the
 * informer of its scope (the operator's one, or narrowed to temporary routes by the solver
 * label).
 */
export class TemporaryRoutes {
  constructor(
    private readonly cache: Cache,
    private readonly namespace: string,
    private readonly kinds: RouteKind[],
  ) {}

  /** One route for each challenge a replica has open. */
  async list(): Promise<KubeObject[]> {
    const selector = { namespace: this.namespace, labelSelector: `${LABEL_HTTP01}=true` };
    const lists = await Promise.all(
      this.kinds.map(({ resource, scope }) => this.cache.list(resource, selector, scope)),
    );
    return lists.flat();
  }

  /** The key authorization of a token another replica routed (undefined: unknown). */
  readonly keyAuthorization = async (token: string): Promise<string | undefined> =>
    (await this.list())
      .map((r) => r.metadata?.annotations?.[ANNOTATION_KEY_AUTHORIZATION])
      .find((keyAuth) => keyAuth?.startsWith(`${token}.`));
}

/**
 * HTTP-01 inside a cluster: the challenge server answers, and a temporary route (an
 * Ingress, an HTTPRoute) sends exactly `/.well-known/acme-challenge/TOKEN` on the challenged
 * host to it. The route goes as soon as the challenge is done.
 */
export class RoutedSolver<T extends KubeObject> implements Solver {
  readonly type = 'http-01';

  constructor(
    private readonly server: Solver,
    private readonly client: Client,
    private readonly service: SolverService,
    private readonly route: ChallengeRoute<T>,
    private readonly log: Logger,
    /** Labels beside the solver's own (cert-manager's gatewayHTTPRoute.labels). */
    private readonly labels: Record<string, string> = {},
  ) {}

  private routeName(ch: Challenge): string {
    const hash = createHash('sha256')
      .update(`${ch.identifier}/${ch.token}`)
      .digest('hex')
      .slice(0, 10);
    return `chousei-acme-http01-${hash}`;
  }

  async present(ch: Challenge): Promise<void> {
    await this.server.present(ch);
    const route = this.route.build(
      ch,
      {
        name: this.routeName(ch),
        namespace: this.service.namespace,
        labels: { ...this.labels, [LABEL_HTTP01]: 'true' },
        annotations: { [ANNOTATION_KEY_AUTHORIZATION]: ch.keyAuthorization },
      },
      this.service,
    );
    await this.client.apply(this.route.resource, route, {
      fieldManager: 'chousei-cert-operator',
      force: true,
    });
    this.log.debug(
      { host: ch.identifier, [this.route.resource.kind]: route.metadata?.name },
      'routed HTTP-01 challenge',
    );
  }

  async cleanUp(ch: Challenge): Promise<void> {
    await this.client
      .delete(this.route.resource, { namespace: this.service.namespace, name: this.routeName(ch) })
      .catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    await this.server.cleanUp(ch);
  }
}
