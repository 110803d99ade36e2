import { sharedCluster } from '@chousei/testenv/vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/client/client.js';
import {
  AlreadyExistsError,
  ConflictError,
  ForbiddenError,
  InvalidError,
  NotFoundError,
} from '../src/client/errors.js';
import { ConfigMaps, resourceType, Services } from '../src/client/resource.js';
import { updateWithRetry } from '../src/client/retry.js';
import type { ConfigMap, KubeObject } from '../src/client/types.js';

interface Widget extends KubeObject {
  spec: { size: number };
  status?: { observed?: number };
}
const Widgets = resourceType<Widget>('client.test.chousei.dev/v1', 'Widget', 'widgets', true);
const WIDGET_CRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: widgets.client.test.chousei.dev }
spec:
  group: client.test.chousei.dev
  scope: Namespaced
  names: { plural: widgets, singular: widget, kind: Widget }
  versions:
    - name: v1
      served: true
      storage: true
      subresources: { status: {} }
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties: { size: { type: integer, minimum: 0 } }
            status:
              type: object
              properties: { observed: { type: integer } }
`;

describe('client', () => {
  let client: Client;
  let ns: string;

  beforeAll(async () => {
    const cluster = await sharedCluster();
    client = new Client(cluster.kubeConfig);
    ns = await cluster.createNamespace('client');
    await cluster.apply(WIDGET_CRD);
  });

  it('creates, gets, lists, updates and deletes built-in objects', async () => {
    const created = await client.create(ConfigMaps, {
      metadata: { name: 'a', namespace: ns, labels: { app: 'x' } },
      data: { k: 'v' },
    });
    expect(created.metadata?.uid).toBeTruthy();
    expect((await client.get(ConfigMaps, { namespace: ns, name: 'a' })).data).toEqual({ k: 'v' });
    for (let i = 0; i < 7; i++) {
      await client.create(ConfigMaps, { metadata: { name: `p${i}`, namespace: ns }, data: {} });
    }
    // Pages of 3 are joined into one list (no controller-manager, so no kube-root-ca.crt).
    expect(await client.list(ConfigMaps, { namespace: ns, limit: 3 })).toHaveLength(8);
    expect(await client.list(ConfigMaps, { namespace: ns, labelSelector: 'app=x' })).toHaveLength(
      1,
    );
    const updated = await client.update(ConfigMaps, { ...created, data: { k: 'w' } });
    expect(updated.data).toEqual({ k: 'w' });
    await client.delete(ConfigMaps, { namespace: ns, name: 'a' });
    await expect(client.get(ConfigMaps, { namespace: ns, name: 'a' })).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });

  it('patches with merge and JSON patch, and applies server-side', async () => {
    const key = { namespace: ns, name: 'patched' };
    await client.create(ConfigMaps, { metadata: key, data: { a: '1' } });
    const merged = await client.patch(ConfigMaps, key, {
      type: 'merge',
      patch: { data: { b: '2' } },
    });
    expect(merged.data).toEqual({ a: '1', b: '2' });
    const jsonPatched = await client.patch(ConfigMaps, key, {
      type: 'json',
      patch: [{ op: 'remove', path: '/data/a' }],
    });
    expect(jsonPatched.data).toEqual({ b: '2' });

    const applied = await client.apply<ConfigMap>(
      ConfigMaps,
      { metadata: { name: 'applied', namespace: ns }, data: { owner: 'one' } },
      { fieldManager: 'one' },
    );
    expect(applied.data).toEqual({ owner: 'one' });
    // Another manager changing the same field conflicts unless it forces.
    await expect(
      client.apply<ConfigMap>(
        ConfigMaps,
        { metadata: { name: 'applied', namespace: ns }, data: { owner: 'two' } },
        { fieldManager: 'two' },
      ),
    ).rejects.toBeInstanceOf(ConflictError);
    const forced = await client.apply<ConfigMap>(
      ConfigMaps,
      { metadata: { name: 'applied', namespace: ns }, data: { owner: 'two' } },
      { fieldManager: 'two', force: true },
    );
    expect(forced.data).toEqual({ owner: 'two' });
  });

  it('returns typed errors: AlreadyExists, Conflict, Invalid with causes, Forbidden', async () => {
    const cm = await client.create(ConfigMaps, { metadata: { name: 'dup', namespace: ns } });
    await expect(
      client.create(ConfigMaps, { metadata: { name: 'dup', namespace: ns } }),
    ).rejects.toBeInstanceOf(AlreadyExistsError);
    await client.update(ConfigMaps, { ...cm, data: { x: '1' } });
    // The stale resourceVersion of `cm` conflicts.
    await expect(client.update(ConfigMaps, { ...cm, data: { x: '2' } })).rejects.toBeInstanceOf(
      ConflictError,
    );

    const invalid = client.create(Services, {
      metadata: { name: 'bad', namespace: ns },
      spec: { ports: [{ port: 70000 }] },
    });
    await expect(invalid).rejects.toBeInstanceOf(InvalidError);
    const err = (await invalid.catch((e: unknown) => e)) as InvalidError;
    expect(err.causes.map((c) => c.field)).toContain('spec.ports[0].port');

    const cluster = await sharedCluster();
    const nobody = new Client(await cluster.userKubeConfig('nobody'));
    await expect(nobody.list(ConfigMaps, { namespace: ns })).rejects.toBeInstanceOf(ForbiddenError);
  });

  it('reads and writes custom resources and their status subresource', async () => {
    const w = await client.create(Widgets, {
      metadata: { name: 'w', namespace: ns },
      spec: { size: 2 },
    });
    const withStatus = await client.updateStatus(Widgets, { ...w, status: { observed: 2 } });
    expect(withStatus.status).toEqual({ observed: 2 });
    // A status write does not change the spec, and a spec write does not change the status.
    const patched = await client.patchStatus(
      Widgets,
      { namespace: ns, name: 'w' },
      {
        type: 'merge',
        patch: { spec: { size: 9 }, status: { observed: 3 } },
      },
    );
    expect(patched.spec.size).toBe(2);
    expect(patched.status?.observed).toBe(3);
    await expect(
      client.create(Widgets, { metadata: { name: 'neg', namespace: ns }, spec: { size: -1 } }),
    ).rejects.toBeInstanceOf(InvalidError);
  });

  it('gives up a request waiting for its turn under the rate limit when its signal aborts', async () => {
    // A client whose every request waits a minute for a token, as behind a long backlog.
    const throttled = new Client((await sharedCluster()).kubeConfig, { throttle: () => 60_000 });
    const started = Date.now();
    await expect(
      throttled.transport.request('GET', '/api', { signal: AbortSignal.timeout(100) }),
    ).rejects.toThrow(/aborted|timeout/i);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('retries an update that conflicts by re-reading', async () => {
    const key = { namespace: ns, name: 'counter' };
    await client.create(ConfigMaps, { metadata: key, data: { n: '0' } });
    // Ten concurrent increments: each conflict is re-read and retried, none is lost.
    await Promise.all(
      Array.from({ length: 10 }, () =>
        updateWithRetry(
          client,
          ConfigMaps,
          key,
          (cm) => {
            cm.data = { n: String(Number(cm.data?.n) + 1) };
            return true;
          },
          { attempts: 20 },
        ),
      ),
    );
    expect((await client.get(ConfigMaps, key)).data?.n).toBe('10');
  });
});
