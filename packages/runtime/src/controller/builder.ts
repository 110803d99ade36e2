import type { Logger } from 'pino';
import type { InformerScope } from '../cache/cache.js';
import type { ResourceType } from '../client/resource.js';
import { type KubeObject, keyOf } from '../client/types.js';
import { Controller, type ControllerOptions, ownerRequests, type Source } from './controller.js';
import { type ObjectClient, ObjectReconcile, type ObjectReconciler } from './objects.js';
import type { Predicate } from './predicates.js';
import type { ReconcileFunc, Reconciler, Request } from './reconciler.js';
import { objectRequests, type RequestKind } from './requests.js';

export interface WatchOptions<T extends KubeObject> extends InformerScope {
  predicates?: Predicate<T>[];
}

export interface ControllerBuilderOptions<Req> {
  /** Told of the controller once built (the manager runs it). */
  register?: (c: Controller<Req>) => void;
  logger?: Logger;
  /** What `reconcileObjects` writes finalizers and status with (the manager's client). */
  client?: ObjectClient;
}

/**
 * Declares what a controller reconciles and what wakes it:
 *
 *   manager.controller('widgets').for(Widgets).owns(ConfigMaps).watches(Secrets, mapFn)
 *     .reconcileObjects({ reconcile: (widget, ctx) => ({ status }) })
 *
 * `Req` is the request type (an ObjectKey unless the manager was given another
 * RequestKind); `T` the primary kind, once `for()` named it.
 */
export class ControllerBuilder<Req = Request, T extends KubeObject = KubeObject> {
  private readonly sources: Source<KubeObject, Req>[] = [];
  private primary: ResourceType | undefined;
  private options: ControllerOptions = {};

  constructor(
    private readonly name: string,
    // The default is right for the default Req only; Manager.controller's overloads pair them.
    private readonly requests: RequestKind<Req> = objectRequests as unknown as RequestKind<Req>,
    private readonly deps: ControllerBuilderOptions<Req> = {},
  ) {}

  /** The primary kind: each of its objects is a request (its own key). */
  for<P extends KubeObject>(
    this: ControllerBuilder<Request, KubeObject>,
    rt: ResourceType<P>,
    // Not inferred from: a predicate of any object (generationChanged) keeps P the kind's.
    opts: WatchOptions<NoInfer<P>> = {},
  ): ControllerBuilder<Request, P> {
    if (this.primary) throw new Error(`controller ${this.name}: for() called twice`);
    this.primary = rt;
    this.add(rt, opts, (obj) => [keyOf(obj)], true);
    return this as unknown as ControllerBuilder<Request, P>;
  }

  /** A kind this controller creates: events map to the controller owner of the primary kind. */
  owns<C extends KubeObject>(
    this: ControllerBuilder<Request, T>,
    rt: ResourceType<C>,
    opts: WatchOptions<C> = {},
  ): ControllerBuilder<Request, T> {
    if (!this.primary) throw new Error(`controller ${this.name}: call for() before owns()`);
    return this.add(rt, opts, ownerRequests(this.primary));
  }

  /** Any other kind, mapped to requests by `map`. */
  watches<W extends KubeObject>(
    rt: ResourceType<W>,
    map: (obj: W) => Req[],
    opts: WatchOptions<W> = {},
  ): this {
    return this.add(rt, opts, map);
  }

  withOptions(options: ControllerOptions): this {
    this.options = { ...this.options, ...options };
    return this;
  }

  /**
   * Builds the controller with a reconciler of requests (and registers it with the manager
   * that made this builder). Without for(), requests come only from watches().
   */
  complete(reconciler: Reconciler<Req> | ReconcileFunc<Req>): Controller<Req> {
    if (!this.sources.length) throw new Error(`controller ${this.name}: call for() or watches()`);
    const r = typeof reconciler === 'function' ? { reconcile: reconciler } : reconciler;
    const controller = new Controller(this.name, this.requests, r, this.sources, {
      ...(this.deps.logger ? { logger: this.deps.logger } : {}),
      ...this.options,
    });
    this.deps.register?.(controller);
    return controller;
  }

  /**
   * Builds the controller of the primary kind with an ObjectReconciler: the runtime reads
   * each object from the cache, runs the finalizer flow, hands the object over and writes
   * the status it returns, once and only when it changed.
   */
  reconcileObjects(
    this: ControllerBuilder<Request, T>,
    reconciler: ObjectReconciler<T>,
  ): Controller<Request> {
    const primary = this.sources.findIndex((s) => s.primary);
    if (primary < 0) throw new Error(`controller ${this.name}: reconcileObjects needs for()`);
    const { client } = this.deps;
    if (!client) {
      throw new Error(
        `controller ${this.name}: reconcileObjects needs a client (use manager.controller())`,
      );
    }
    const rt = this.primary as ResourceType<T>;
    return this.complete(new ObjectReconcile(client, rt, primary, reconciler));
  }

  private add<W extends KubeObject>(
    rt: ResourceType<W>,
    opts: WatchOptions<W>,
    map: (obj: W) => Req[],
    primary = false,
  ): this {
    const { predicates, ...scope } = opts;
    this.sources.push({
      resource: rt,
      scope,
      ...(predicates ? { predicates } : {}),
      map,
      ...(primary ? { primary } : {}),
    } as Source<KubeObject, Req>);
    return this;
  }
}
