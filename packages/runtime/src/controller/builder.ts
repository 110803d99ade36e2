import type { Logger } from 'pino';
import type { InformerScope } from '../cache/cache.js';
import type { ResourceType } from '../client/resource.js';
import { type KubeObject, objectKey, parseObjectKey } from '../client/types.js';
import { Controller, type ControllerOptions, ownerRequests, type Source } from './controller.js';
import type { Predicate } from './predicates.js';
import type { ReconcileFunc, Reconciler, Request } from './reconciler.js';

export interface WatchOptions<T extends KubeObject> extends InformerScope {
  predicates?: Predicate<T>[];
}

/**
 * Declares what a controller reconciles and what wakes it:
 *
 *   builder('widgets').for(Widgets).owns(ConfigMaps).watches(Secrets, mapFn).complete(r)
 */
export class ControllerBuilder {
  private readonly sources: Source[] = [];
  private primary: ResourceType | undefined;
  private options: ControllerOptions = {};

  constructor(
    private readonly name: string,
    private readonly register: (c: Controller) => void = () => {},
    private readonly logger?: Logger,
  ) {}

  /** The primary kind: each of its objects is a request (its own key). */
  for<T extends KubeObject>(rt: ResourceType<T>, opts: WatchOptions<T> = {}): this {
    if (this.primary) throw new Error(`controller ${this.name}: for() called twice`);
    this.primary = rt;
    return this.add(rt, opts, (obj) => [parseObjectKey(objectKey(obj))]);
  }

  /** A kind this controller creates: events map to the controller owner of the primary kind. */
  owns<T extends KubeObject>(rt: ResourceType<T>, opts: WatchOptions<T> = {}): this {
    if (!this.primary) throw new Error(`controller ${this.name}: call for() before owns()`);
    return this.add(rt, opts, ownerRequests(this.primary));
  }

  /** Any other kind, mapped to requests by `map`. */
  watches<T extends KubeObject>(
    rt: ResourceType<T>,
    map: (obj: T) => Request[],
    opts: WatchOptions<T> = {},
  ): this {
    return this.add(rt, opts, map);
  }

  withOptions(options: ControllerOptions): this {
    this.options = { ...this.options, ...options };
    return this;
  }

  /**
   * Builds the controller (and registers it with the manager that made this builder).
   * Without for(), requests come only from watches() (keys need not name objects, e.g.
   * a DNS name fed by several kinds).
   */
  complete(reconciler: Reconciler | ReconcileFunc): Controller {
    if (!this.sources.length) throw new Error(`controller ${this.name}: call for() or watches()`);
    const r = typeof reconciler === 'function' ? { reconcile: reconciler } : reconciler;
    const controller = new Controller(this.name, r, this.sources, {
      ...(this.logger ? { logger: this.logger } : {}),
      ...this.options,
    });
    this.register(controller);
    return controller;
  }

  private add<T extends KubeObject>(
    rt: ResourceType<T>,
    opts: WatchOptions<T>,
    map: (obj: T) => Request[],
  ): this {
    const { predicates, ...scope } = opts;
    this.sources.push({
      resource: rt,
      scope,
      ...(predicates ? { predicates } : {}),
      map,
    } as Source);
    return this;
  }
}
