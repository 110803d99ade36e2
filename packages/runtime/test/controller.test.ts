import { parseMetrics } from '@chousei/testenv';
import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cache } from '../src/cache/cache.js';
import { Client } from '../src/client/client.js';
import { isNotFound } from '../src/client/errors.js';
import { ConfigMaps, resourceType } from '../src/client/resource.js';
import type { KubeObject } from '../src/client/types.js';
import { ControllerBuilder } from '../src/controller/builder.js';
import type { Controller } from '../src/controller/controller.js';
import { generationChanged } from '../src/controller/predicates.js';
import { type Request, TerminalError } from '../src/controller/reconciler.js';
import { metricsRegistry } from '../src/metrics/registry.js';

interface Gadget extends KubeObject {
  spec: { size: number; mode?: string };
  status?: { seen?: number };
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

  function run(controller: Controller): Cache {
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
});
