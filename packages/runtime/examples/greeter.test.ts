// The test of the one-file operator: a real API server (the shared one that
// @chousei/testenv/global-setup starts), the operator's manager in the background, and
// assertions on the state of the world.
import { Client, ConfigMaps } from '@chousei/runtime';
import {
  type RunningManager,
  startManager,
  waitFor,
  waitForCondition,
} from '@chousei/runtime/testing';
import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Greetings, greeterManager, greetingCRD } from './greeter.js';

let running: RunningManager;
let client: Client;
let namespace: string;

beforeAll(async () => {
  const cluster = await sharedCluster();
  await cluster.apply([greetingCRD]);
  namespace = await cluster.createNamespace('greeter');
  client = new Client(cluster.kubeConfig);
  running = await startManager(
    greeterManager({ kubeConfig: cluster.kubeConfig, healthProbePort: false, metricsPort: false }),
  );
});
afterAll(() => running.stop());

it('keeps a ConfigMap with the greeting and reports Ready', async () => {
  await client.create(Greetings, {
    metadata: { name: 'world', namespace },
    spec: { name: 'World' },
  });
  const ready = await waitForCondition(client, Greetings, { namespace, name: 'world' }, 'Ready');
  expect(ready.status?.conditions?.[0]?.message).toBe('Hello, World!');

  await client.patch(
    Greetings,
    { namespace, name: 'world' },
    {
      type: 'merge',
      patch: { spec: { greeting: 'Konnichiwa' } },
    },
  );
  const cm = await waitFor(async () => {
    const c = await client.get(ConfigMaps, { namespace, name: 'world-greeting' });
    return c.data?.text === 'Konnichiwa, World!' && c;
  });
  expect(cm.metadata?.ownerReferences?.[0]?.kind).toBe('Greeting');
});
