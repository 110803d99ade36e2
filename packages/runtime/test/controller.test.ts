import { parseMetrics } from '@chousei/testenv';
import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cache } from '../src/cache/cache.js';
import { Informer } from '../src/cache/informer.js';
import { Client } from '../src/client/client.js';
import { isNotFound, notFoundIsUndefined } from '../src/client/errors.js';
import { ConfigMaps, resourceType } from '../src/client/resource.js';
import { type KubeObject, objectKey } from '../src/client/types.js';
import { ControllerBuilder } from '../src/controller/builder.js';
import type { Controller } from '../src/controller/controller.js';
import { generationChanged } from '../src/controller/predicates.js';
import { type Request, TerminalError } from '../src/controller/reconciler.js';
import { namedRequests, objectRequests } from '../src/controller/requests.js';
import { metricsRegistry } from '../src/metrics/registry.js';

interface Gadget extends KubeObject {
  spec: { size: number; mode?: string };
  status?: { seen?: number; mode?: string };
}
const Gadgets = resourceType<Gadget>('ctl.test.chousei.dev/v1', 'Gadget', 'gadgets', true);
const CRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: gadgets.ctl.test.chousei.dev }
spec:
  group: ctl.test.chousei.dev
  scope: Namespaced
  names: { plural: gadgets, singular: gadget, kind: Gadget }
  versions:
    - name: v1
      served: true
      storage: true
      subresources: { status: {} }
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
`;

describe('controller', () => {
  let client: Client;
  let cluster: Awaited<ReturnType<typeof sharedCluster>>;
  const stops: AbortController[] = [];

  beforeAll(async () => {
    cluster = await sharedCluster();
    client = new Client(cluster.kubeConfig);
    await cluster.apply(CRD);
  });
  afterAll(() => {
    for (const s of stops) s.abort();
  });

  function run<Req>(controller: Controller<Req>): Cache {
    const stop = new AbortController();
    stops.push(stop);
    const cache = new Cache(client.transport);
    void controller.start(cache, stop.signal);
    return cache;
  }

  it('converges owned children and repairs them when they drift or vanish', async () => {
    const ns = await cluster.createNamespace('ctl');
    const controller = new ControllerBuilder('gadget-children')
      .for(Gadgets, { namespace: ns })
      .owns(ConfigMaps, { namespace: ns })
      .complete(async (req) => {
        const gadget = await client.get(Gadgets, req).catch((e: unknown) => {
          if (isNotFound(e)) return undefined;
          throw e;
        });
        if (!gadget) return;
        await client.apply(
          ConfigMaps,
          {
            metadata: {
              name: `${req.name}-child`,
              namespace: ns,
              ownerReferences: [
                {
                  apiVersion: Gadgets.apiVersion,
                  kind: Gadgets.kind,
                  name: req.name,
                  uid: gadget.metadata!.uid!,
                  controller: true,
                },
              ],
            },
            data: { size: String(gadget.spec.size) },
          },
          { fieldManager: 'gadget-controller', force: true },
        );
      });
    run(controller);
    await client.create(Gadgets, { metadata: { name: 'g', namespace: ns }, spec: { size: 1 } });
    const child = { namespace: ns, name: 'g-child' };
    const size = () =>
      client.get(ConfigMaps, child).then(
        (c) => c.data?.size,
        () => undefined,
      );
    await expect.poll(size).toBe('1');
    // Drift on the child maps back to its owner and is undone.
    await client.patch(ConfigMaps, child, { type: 'merge', patch: { data: { size: '99' } } });
    await expect.poll(size).toBe('1');
    await client.delete(ConfigMaps, child);
    await expect.poll(size).toBe('1');
    await client.patch(
      Gadgets,
      { namespace: ns, name: 'g' },
      { type: 'merge', patch: { spec: { size: 2 } } },
    );
    await expect.poll(size).toBe('2');
  });

  it('filters with predicates, stops on terminal errors, retries others with backoff, requeues', async () => {
    const ns = await cluster.createNamespace('ctl');
    const calls = new Map<string, number>();
    const controller = new ControllerBuilder('gadget-behaviour')
      .for(Gadgets, { namespace: ns, predicates: [generationChanged] })
      .complete(async (req: Request) => {
        const n = (calls.get(req.name) ?? 0) + 1;
        calls.set(req.name, n);
        if (req.name === 'terminal') throw new TerminalError('bad spec');
        if (req.name === 'flaky' && n < 3) throw new Error('transient');
        if (req.name === 'requeue' && n < 3) return { requeueAfter: 50 };
        return {};
      });
    run(controller);
    for (const name of ['plain', 'terminal', 'flaky', 'requeue']) {
      await client.create(Gadgets, { metadata: { name, namespace: ns }, spec: { size: 1 } });
    }
    await expect.poll(() => calls.get('flaky')).toBe(3);
    await expect.poll(() => calls.get('requeue')).toBe(3);
    await expect.poll(() => calls.get('plain')).toBe(1);
    // A status write does not change the generation: the predicate drops it.
    const plain = await client.get(Gadgets, { namespace: ns, name: 'plain' });
    await client.updateStatus(Gadgets, { ...plain, status: { seen: 1 } });
    await new Promise((r) => setTimeout(r, 300));
    expect(calls.get('plain')).toBe(1);
    expect(calls.get('terminal')).toBe(1);
    // A spec change does; so does a new generation of the terminal one.
    await client.patch(
      Gadgets,
      { namespace: ns, name: 'terminal' },
      { type: 'merge', patch: { spec: { size: 2 } } },
    );
    await expect.poll(() => calls.get('terminal')).toBe(2);
  });

  it('issue 16: counts reconciles by result and errors from 0, before any (as controller-runtime)', async () => {
    const ns = await cluster.createNamespace('ctl');
    const controller = new ControllerBuilder('gadget-counted')
      .for(Gadgets, { namespace: ns })
      .complete(async () => ({}));
    run(controller);
    const series = async () =>
      parseMetrics(await metricsRegistry.metrics())
        .filter((m) => m.labels.controller === 'gadget-counted' && m.name.endsWith('_total'))
        .map((m) => `${m.name}${m.labels.result ? `/${m.labels.result}` : ''} ${m.value}`)
        .sort();
    // A rate() of a counter that appears with its first error misses that error.
    await expect
      .poll(series)
      .toEqual([
        'controller_runtime_reconcile_errors_total 0',
        'controller_runtime_reconcile_total/error 0',
        'controller_runtime_reconcile_total/requeue 0',
        'controller_runtime_reconcile_total/requeue_after 0',
        'controller_runtime_reconcile_total/success 0',
        'controller_runtime_terminal_reconcile_errors_total 0',
      ]);
  });

  it('never runs one key in two workers at once, and resyncs periodically', async () => {
    const ns = await cluster.createNamespace('ctl');
    let inFlight = 0;
    let maxInFlightPerKey = 0;
    const running = new Set<string>();
    let total = 0;
    const controller = new ControllerBuilder('gadget-concurrency')
      .for(Gadgets, { namespace: ns })
      .withOptions({ maxConcurrentReconciles: 4, resyncPeriodMs: 300 })
      .complete(async (req) => {
        total++;
        if (running.has(req.name)) maxInFlightPerKey = 2;
        running.add(req.name);
        inFlight++;
        await new Promise((r) => setTimeout(r, 20));
        inFlight--;
        running.delete(req.name);
        if (maxInFlightPerKey === 0) maxInFlightPerKey = 1;
      });
    run(controller);
    await client.create(Gadgets, { metadata: { name: 'hot', namespace: ns }, spec: { size: 0 } });
    for (let i = 1; i <= 20; i++) controller.enqueue({ namespace: ns, name: 'hot' });
    await expect.poll(() => total).toBeGreaterThan(3); // resync keeps reconciling it
    expect(maxInFlightPerKey).toBe(1);
    expect(inFlight).toBeLessThanOrEqual(1);
  });
  describe('issue 12: reconcileObjects, the runtime reads the object and writes the status it returns', () => {
    const objects = (name: string) => new ControllerBuilder(name, objectRequests, { client });
    const get = (ns: string, name: string) =>
      client.get(Gadgets, { namespace: ns, name }).catch(notFoundIsUndefined);

    it('writes the status once per reconcile and only when it changed; its own write wakes nobody', async () => {
      const ns = await cluster.createNamespace('ctl');
      const handed: string[] = []; // resourceVersions the reconciler was handed
      const controller = objects('gadget-status')
        .for(Gadgets, { namespace: ns })
        .reconcileObjects({
          reconcile: (g) => {
            handed.push(g.metadata?.resourceVersion ?? '');
            return { status: { seen: g.spec.size, mode: g.spec.mode ?? 'none' } };
          },
        });
      const cache = run(controller);
      // Every status the object goes through, as a watch of the API server sees it.
      const history: NonNullable<Gadget['status']>[] = [];
      const stop = new AbortController();
      stops.push(stop);
      const watch = new Informer(client.transport, Gadgets, { namespace: ns });
      watch.addHandler({
        onUpdate: (old, g) => {
          if (JSON.stringify(old.status) !== JSON.stringify(g.status)) history.push(g.status ?? {});
        },
      });
      void watch.start(stop.signal);
      await watch.waitForSync(stop.signal);

      await client.create(Gadgets, {
        metadata: { name: 'g', namespace: ns },
        spec: { size: 1, mode: 'a' },
      });
      await expect.poll(async () => (await get(ns, 'g'))?.status?.seen).toBe(1);
      const written = (await get(ns, 'g'))?.metadata?.resourceVersion;
      // Once the controller's cache holds its own status write, nothing reconciles it.
      const cached = cache.informer(Gadgets, { namespace: ns });
      await expect.poll(() => cached.store.get(`${ns}/g`)?.metadata?.resourceVersion).toBe(written);

      // A change that leaves the status as it is: reconciled, nothing written.
      const labelled = await client.patch(
        Gadgets,
        { namespace: ns, name: 'g' },
        { type: 'merge', patch: { metadata: { labels: { touched: 'yes' } } } },
      );
      await expect.poll(() => handed.at(-1)).toBe(labelled.metadata?.resourceVersion);
      // Both status members change in one write: no state with one of them only.
      await client.patch(
        Gadgets,
        { namespace: ns, name: 'g' },
        { type: 'merge', patch: { spec: { size: 2, mode: 'b' } } },
      );
      await expect.poll(async () => (await get(ns, 'g'))?.status?.seen).toBe(2);

      expect(handed).not.toContain(written);
      expect(handed.length).toBe(3);
      await expect
        .poll(() => history)
        .toEqual([
          { seen: 1, mode: 'a' },
          { seen: 2, mode: 'b' },
        ]);
    });

    it('tells a deleted object by its key and never hands over a missing one', async () => {
      const ns = await cluster.createNamespace('ctl');
      const handed: string[] = [];
      const deleted: string[] = [];
      const controller = objects('gadget-deleted')
        .for(Gadgets, { namespace: ns })
        .reconcileObjects({
          reconcile: (g) => {
            handed.push(g.metadata?.name ?? '');
          },
          deleted: (key) => {
            deleted.push(objectKey(key));
          },
        });
      run(controller);
      await client.create(Gadgets, {
        metadata: { name: 'short', namespace: ns },
        spec: { size: 1 },
      });
      await expect.poll(() => handed).toEqual(['short']);
      await client.delete(Gadgets, { namespace: ns, name: 'short' });
      await expect.poll(() => deleted).toEqual([`${ns}/short`]);
      controller.enqueue({ namespace: ns, name: 'never-made' });
      await expect.poll(() => deleted).toEqual([`${ns}/short`, `${ns}/never-made`]);
      expect(handed).toEqual(['short']);
    });

    it('adds the finalizer before the first reconcile, keeps it while cleanup is not done, then removes it', async () => {
      const ns = await cluster.createNamespace('ctl');
      const FINALIZER = 'ctl.test.chousei.dev/cleanup';
      const handedFinalizers: string[][] = [];
      let cleanups = 0;
      let released = false;
      const controller = objects('gadget-finalizer')
        .for(Gadgets, { namespace: ns })
        .reconcileObjects({
          reconcile: (g) => {
            handedFinalizers.push([...(g.metadata?.finalizers ?? [])]);
            return { status: { seen: g.spec.size } };
          },
          finalizer: {
            name: FINALIZER,
            cleanup: () => {
              cleanups++;
              // Not done until released: the finalizer stays, the status says so.
              return released ? {} : { requeueAfter: 50, status: { seen: -1 } };
            },
          },
        });
      run(controller);
      await client.create(Gadgets, {
        metadata: { name: 'held', namespace: ns },
        spec: { size: 1 },
      });
      await expect.poll(async () => (await get(ns, 'held'))?.status?.seen).toBe(1);
      expect(handedFinalizers[0]).toEqual([FINALIZER]);
      expect((await get(ns, 'held'))?.metadata?.finalizers).toEqual([FINALIZER]);

      await client.delete(Gadgets, { namespace: ns, name: 'held' });
      await expect.poll(async () => (await get(ns, 'held'))?.status?.seen).toBe(-1);
      const deleting = await get(ns, 'held');
      expect(deleting?.metadata?.deletionTimestamp).toBeDefined();
      expect(deleting?.metadata?.finalizers).toEqual([FINALIZER]);
      await expect.poll(() => cleanups).toBeGreaterThan(1);
      released = true;
      await expect.poll(() => get(ns, 'held')).toBeUndefined();
    });

    it('queues the object again when work the reconcile started and left running asks, and writes the status each reconcile returns', async () => {
      const ns = await cluster.createNamespace('ctl');
      let release!: () => void;
      const released = new Promise<void>((r) => {
        release = r;
      });
      let done = false;
      const controller = objects('gadget-background')
        .for(Gadgets, { namespace: ns })
        .reconcileObjects({
          reconcile: (g, ctx) => {
            if (done) return { status: { seen: g.spec.size } };
            // Not awaited: the reconcile ends at once, the work queues the object when done.
            void released.then(() => {
              done = true;
              ctx.enqueue();
            });
            return { status: { seen: 0, mode: 'waiting' } };
          },
        });
      run(controller);
      await client.create(Gadgets, { metadata: { name: 'g', namespace: ns }, spec: { size: 4 } });
      await expect
        .poll(async () => (await get(ns, 'g'))?.status)
        .toEqual({ seen: 0, mode: 'waiting' });
      release();
      // Left out of the returned status: `mode` is removed.
      await expect.poll(async () => (await get(ns, 'g'))?.status).toEqual({ seen: 4 });
    });

    it('a finalizer on the objects that need it alone: none on the others, and one no longer needed comes off once cleanup is done', async () => {
      const ns = await cluster.createNamespace('ctl');
      const FINALIZER = 'ctl.test.chousei.dev/needed';
      let cleanups = 0;
      let released = false;
      const controller = objects('gadget-needed')
        .for(Gadgets, { namespace: ns })
        .reconcileObjects({
          reconcile: (g) => ({ status: { seen: g.spec.size } }),
          finalizer: {
            name: FINALIZER,
            needed: (g) => g.spec.size > 0,
            cleanup: () => {
              cleanups++;
              return released ? {} : { requeueAfter: 50 };
            },
          },
        });
      run(controller);
      for (const [name, size] of [
        ['none', 0],
        ['some', 1],
      ] as const) {
        await client.create(Gadgets, { metadata: { name, namespace: ns }, spec: { size } });
      }
      await expect.poll(async () => (await get(ns, 'some'))?.status?.seen).toBe(1);
      await expect.poll(async () => (await get(ns, 'none'))?.status?.seen).toBe(0);
      expect((await get(ns, 'some'))?.metadata?.finalizers).toEqual([FINALIZER]);
      expect((await get(ns, 'none'))?.metadata?.finalizers ?? []).toEqual([]);
      expect(cleanups).toBe(0);

      // No longer needed: reconciled at once, released once cleanup is done, not deleted.
      await client.patch(
        Gadgets,
        { namespace: ns, name: 'some' },
        { type: 'merge', patch: { spec: { size: 0 } } },
      );
      await expect.poll(async () => (await get(ns, 'some'))?.status?.seen).toBe(0);
      await expect.poll(() => cleanups).toBeGreaterThan(1);
      expect((await get(ns, 'some'))?.metadata?.finalizers).toEqual([FINALIZER]);
      released = true;
      await expect
        .poll(async () => (await get(ns, 'some'))?.metadata?.finalizers ?? [])
        .toEqual([]);
      expect((await get(ns, 'some'))?.metadata?.deletionTimestamp).toBeUndefined();
    });

    it('requeues after the time asked, and retries a returned error with backoff after writing the status', async () => {
      const ns = await cluster.createNamespace('ctl');
      const calls = new Map<string, number>();
      const controller = objects('gadget-results')
        .for(Gadgets, { namespace: ns })
        .reconcileObjects({
          reconcile: (g) => {
            const name = g.metadata?.name ?? '';
            const n = (calls.get(name) ?? 0) + 1;
            calls.set(name, n);
            if (name === 'failing') return { status: { seen: -1 }, error: new Error('boom') };
            return n < 3 ? { requeueAfter: 50, status: { seen: n } } : { status: { seen: n } };
          },
        });
      run(controller);
      for (const name of ['requeued', 'failing']) {
        await client.create(Gadgets, { metadata: { name, namespace: ns }, spec: { size: 0 } });
      }
      await expect.poll(async () => (await get(ns, 'requeued'))?.status?.seen).toBe(3);
      expect(calls.get('requeued')).toBe(3);
      await expect.poll(async () => (await get(ns, 'failing'))?.status?.seen).toBe(-1);
      await expect.poll(() => controller.queue.numRequeues(`${ns}/failing`)).toBeGreaterThan(2);
      expect(calls.get('failing')).toBeGreaterThan(2);
    });
  });

  it('issue 12: reconciles requests of its own type, a controller of label values, not of objects', async () => {
    const ns = await cluster.createNamespace('ctl');
    const handed: string[] = [];
    const controller = new ControllerBuilder('gadget-colors', namedRequests('color'))
      .watches(Gadgets, (g) => [g.metadata?.labels?.color ?? 'none'], { namespace: ns })
      .complete(async (color) => {
        handed.push(color);
      });
    run(controller);
    for (const [name, color] of [
      ['one', 'red'],
      ['two', 'blue'],
    ]) {
      await client.create(Gadgets, {
        metadata: { name: name!, namespace: ns, labels: { color: color! } },
        spec: { size: 0 },
      });
    }
    await expect.poll(() => [...new Set(handed)].sort()).toEqual(['blue', 'red']);
    controller.enqueue('green');
    await expect.poll(() => handed).toContain('green');
  });
});
