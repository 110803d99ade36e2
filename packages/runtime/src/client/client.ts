import type { ClusterAccess } from '../kubeconfig/access.js';
import { type ResourceType, resourcePath } from './resource.js';
import { Transport, type TransportOptions } from './transport.js';
import { type KubeObject, keyOf, type ObjectKey, type ObjectList } from './types.js';

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size; every page is fetched and joined. Default 500. */
  limit?: number;
}

export interface WriteOptions {
  /** `All` to validate and admit without persisting. */
  dryRun?: 'All';
  fieldManager?: string;
}

export interface DeleteOptions {
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  gracePeriodSeconds?: number;
  /** Delete only if the object still has this uid / resourceVersion. */
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: 'All';
}

export interface ApplyOptions {
  /** Required by server-side apply: who owns the fields in this object. */
  fieldManager: string;
  /** Take ownership of fields another manager set (resolves apply conflicts). */
  force?: boolean;
  dryRun?: 'All';
}

/** A JSON merge patch (RFC 7386), a JSON patch (RFC 6902) or a strategic merge patch. */
export type Patch =
  | { type: 'merge'; patch: unknown }
  | { type: 'json'; patch: JsonPatchOperation[] }
  | { type: 'strategic'; patch: unknown };

export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
  from?: string;
}

const PATCH_CONTENT_TYPE: Record<Patch['type'], string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

/** Reads objects (from the API server, or from a cache with the same shape). */
export interface Reader {
  get<T extends KubeObject>(rt: ResourceType<T>, key: ObjectKey): Promise<T>;
  list<T extends KubeObject>(rt: ResourceType<T>, opts?: ListOptions): Promise<T[]>;
}

/** Writes objects; each call returns the object as stored. */
export interface Writer {
  create<T extends KubeObject>(rt: ResourceType<T>, obj: T, opts?: WriteOptions): Promise<T>;
  update<T extends KubeObject>(rt: ResourceType<T>, obj: T, opts?: WriteOptions): Promise<T>;
  patch<T extends KubeObject>(
    rt: ResourceType<T>,
    key: ObjectKey,
    patch: Patch,
    opts?: WriteOptions,
  ): Promise<T>;
  apply<T extends KubeObject>(rt: ResourceType<T>, obj: T, opts: ApplyOptions): Promise<T>;
  delete<T extends KubeObject>(
    rt: ResourceType<T>,
    key: ObjectKey,
    opts?: DeleteOptions,
  ): Promise<void>;
}

/** Writes the status subresource only. */
export interface StatusWriter {
  updateStatus<T extends KubeObject>(rt: ResourceType<T>, obj: T, opts?: WriteOptions): Promise<T>;
  patchStatus<T extends KubeObject>(
    rt: ResourceType<T>,
    key: ObjectKey,
    patch: Patch,
    opts?: WriteOptions,
  ): Promise<T>;
  applyStatus<T extends KubeObject>(rt: ResourceType<T>, obj: T, opts: ApplyOptions): Promise<T>;
}

/**
 * Typed access to any resource, built-in or custom: get, list, create, update, patch,
 * server-side apply, delete and the status subresource. Errors are the typed ApiErrors of
 * ./errors.ts.
 */
export class Client implements Reader, Writer, StatusWriter {
  readonly transport: Transport;

  constructor(kubeConfig: ClusterAccess, opts: TransportOptions = {}) {
    this.transport = new Transport(kubeConfig, opts);
  }

  get<T extends KubeObject>(rt: ResourceType<T>, key: ObjectKey): Promise<T> {
    return this.transport.request<T>('GET', resourcePath(rt, key));
  }

  /** Lists every page (limit/continue) and returns the items. */
  async list<T extends KubeObject>(rt: ResourceType<T>, opts: ListOptions = {}): Promise<T[]> {
    return (await this.listPage(rt, opts)).items;
  }

  /** Lists every page and returns the items with the list's resourceVersion. */
  async listPage<T extends KubeObject>(
    rt: ResourceType<T>,
    opts: ListOptions = {},
  ): Promise<ObjectList<T>> {
    const path = resourcePath(rt, { namespace: opts.namespace });
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const page = await this.transport.request<ObjectList<T>>('GET', path, {
        query: {
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
          limit: opts.limit ?? 500,
          continue: cont,
        },
      });
      for (const item of page.items) items.push(item);
      cont = page.metadata.continue;
      resourceVersion = page.metadata.resourceVersion;
    } while (cont);
    return { metadata: { resourceVersion }, items };
  }

  create<T extends KubeObject>(rt: ResourceType<T>, obj: T, opts: WriteOptions = {}): Promise<T> {
    const namespace = obj.metadata?.namespace;
    return this.transport.request<T>('POST', resourcePath(rt, { namespace }), {
      body: { apiVersion: rt.apiVersion, kind: rt.kind, ...obj },
      query: { ...opts },
    });
  }

  update<T extends KubeObject>(rt: ResourceType<T>, obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.put(rt, obj, undefined, opts);
  }

  updateStatus<T extends KubeObject>(
    rt: ResourceType<T>,
    obj: T,
    opts: WriteOptions = {},
  ): Promise<T> {
    return this.put(rt, obj, 'status', opts);
  }

  private put<T extends KubeObject>(
    rt: ResourceType<T>,
    obj: T,
    subresource: string | undefined,
    opts: WriteOptions,
  ): Promise<T> {
    const path = resourcePath(rt, { ...keyOf(obj, `update ${rt.kind}`), subresource });
    return this.transport.request<T>('PUT', path, {
      body: { apiVersion: rt.apiVersion, kind: rt.kind, ...obj },
      query: { ...opts },
    });
  }

  patch<T extends KubeObject>(
    rt: ResourceType<T>,
    key: ObjectKey,
    patch: Patch,
    opts: WriteOptions = {},
  ): Promise<T> {
    return this.sendPatch(rt, key, patch, undefined, opts);
  }

  patchStatus<T extends KubeObject>(
    rt: ResourceType<T>,
    key: ObjectKey,
    patch: Patch,
    opts: WriteOptions = {},
  ): Promise<T> {
    return this.sendPatch(rt, key, patch, 'status', opts);
  }

  private sendPatch<T extends KubeObject>(
    rt: ResourceType<T>,
    key: ObjectKey,
    patch: Patch,
    subresource: string | undefined,
    opts: WriteOptions,
  ): Promise<T> {
    return this.transport.request<T>('PATCH', resourcePath(rt, { ...key, subresource }), {
      body: patch.patch,
      contentType: PATCH_CONTENT_TYPE[patch.type],
      query: { ...opts },
    });
  }

  /** Server-side apply: the server merges `obj` as the fields `fieldManager` owns. */
  apply<T extends KubeObject>(rt: ResourceType<T>, obj: T, opts: ApplyOptions): Promise<T> {
    return this.sendApply(rt, obj, undefined, opts);
  }

  applyStatus<T extends KubeObject>(rt: ResourceType<T>, obj: T, opts: ApplyOptions): Promise<T> {
    return this.sendApply(rt, obj, 'status', opts);
  }

  private sendApply<T extends KubeObject>(
    rt: ResourceType<T>,
    obj: T,
    subresource: string | undefined,
    opts: ApplyOptions,
  ): Promise<T> {
    const path = resourcePath(rt, { ...keyOf(obj, `apply ${rt.kind}`), subresource });
    return this.transport.request<T>('PATCH', path, {
      // JSON is YAML: the apply endpoint accepts either body.
      body: { apiVersion: rt.apiVersion, kind: rt.kind, ...obj },
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: opts.fieldManager, force: opts.force, dryRun: opts.dryRun },
    });
  }

  async delete<T extends KubeObject>(
    rt: ResourceType<T>,
    key: ObjectKey,
    opts: DeleteOptions = {},
  ): Promise<void> {
    await this.transport.request('DELETE', resourcePath(rt, key), {
      body: { apiVersion: 'meta.k8s.io/v1', kind: 'DeleteOptions', ...opts },
    });
  }
}
