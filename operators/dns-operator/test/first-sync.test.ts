// The first-sync guard against a real API server: its state in the ConfigMap the chart's
// RBAC allows (chousei-dns-operator-first-sync in the release namespace), its Event there,
// a user's confirmation by annotation. Each scenario has zones of its own: other files may
// keep their zones' state in the same ConfigMap meanwhile.
import { InMemoryProvider, type RecordSet, TxtRegistry, type Zone } from '@chousei/dns';
import {
  Client,
  ConfigMaps,
  createLogger,
  type Ingress,
  Ingresses,
  Manager,
  notFoundIsUndefined,
} from '@chousei/runtime';
import { type RunningManager, startManager, waitFor, waitForEvent } from '@chousei/runtime/testing';
import { operatorKubeConfig, sharedCluster } from '@chousei/testenv/vitest';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CONFIRM_ANNOTATION } from '../src/controller/first-sync-state.js';
import { setupDnsOperator } from '../src/operator.js';

const logLevel = process.env.TEST_LOG ?? 'silent';
const STATE = { namespace: 'dns-operator', name: 'chousei-dns-operator-first-sync' };
const suffix = Math.random().toString(36).slice(2, 7);

let client: Client;
let running: RunningManager | undefined;
beforeAll(async () => {
  client = new Client((await sharedCluster()).kubeConfig);
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

/** A zone holding `owned` A records, each with the ownership TXT of `owner`. */
async function seededZone(name: string, owner: string, ns: string, hosts: string[]) {
  const zone: Zone = { id: name, name };
  const provider = new InMemoryProvider([name]);
  const registry = new TxtRegistry({ ownerId: owner });
  await provider.apply(
    zone,
    hosts.flatMap((host, i) => [
      {
        action: 'create' as const,
        record: { name: `${host}.${name}`, type: 'A' as const, ttl: 300, values: [ip(i)] },
      },
      {
        action: 'create' as const,
        record: {
          name: registry.txtName(`${host}.${name}`, 'A', name),
          type: 'TXT' as const,
          ttl: 300,
          values: [registry.encode(`ingress/${ns}/${host}`)],
        },
      },
    ]),
  );
  return { zone, provider };
}

const ip = (i: number) => `192.0.2.${i + 1}`;

/** Ingresses asking for exactly what the seeded records hold. */
async function claim(ns: string, zone: string, hosts: string[], offset = 0) {
  for (const [i, host] of hosts.entries()) {
    const ing: Ingress = {
      metadata: { name: host, namespace: ns },
      spec: { rules: [{ host: `${host}.${zone}` }] },
    };
    await client.create(Ingresses, ing);
    await client.patchStatus(
      Ingresses,
      { namespace: ns, name: host },
      { type: 'merge', patch: { status: { loadBalancer: { ingress: [{ ip: ip(i + offset) }] } } } },
    );
  }
}

async function start(provider: InMemoryProvider, ownerId: string, namespace: string) {
  const manager = new Manager({
    kubeConfig: await operatorKubeConfig(),
    healthProbePort: false,
    metricsPort: false,
    logger: createLogger({ level: logLevel }),
  });
  setupDnsOperator(manager, {
    provider,
    sources: ['ingress'],
    ownerId,
    namespace,
    firstSync: { deleteLimit: 0.1, configMap: STATE, confirmPollMs: 200 },
    logger: createLogger({ level: logLevel }),
  });
  running = await startManager(manager);
}

const names = async (provider: InMemoryProvider, zone: Zone) =>
  (await provider.records(zone)).filter((r: RecordSet) => r.type === 'A').map((r) => r.name);
const state = () => client.get(ConfigMaps, STATE).catch(notFoundIsUndefined);
const heldEvent = (zone: string) =>
  waitForEvent(
    client,
    { kind: 'ConfigMap', ...STATE },
    (e) => e.reason === 'DeletesHeld' && !!e.note?.includes(`zone ${zone} `),
  );

/** Deleted while the operator is down: the finalizer it left goes by hand. */
async function deleteWhileDown(ns: string, name: string) {
  await client.patch(
    Ingresses,
    { namespace: ns, name },
    { type: 'merge', patch: { metadata: { finalizers: null } } },
  );
  await client.delete(Ingresses, { namespace: ns, name });
}

describe('first-sync guard', () => {
  it('holds a first sync over the limit (full pass and incremental reconciles) until a person confirms', async () => {
    const cluster = await sharedCluster();
    const ns = await cluster.createNamespace('guard');
    const zoneName = `held-${suffix}.test`;
    const hosts = Array.from({ length: 10 }, (_, i) => `n${i}`);
    const { zone, provider } = await seededZone(zoneName, 'guard', ns, hosts);
    // 7 of the 10 records asked for: 3 deletes, 30% of what it owns.
    await claim(ns, zoneName, hosts.slice(0, 7));
    await start(provider, 'guard', ns);

    const [event] = (await heldEvent(zoneName)).filter((e) => e.reason === 'DeletesHeld');
    expect(event?.type).toBe('Warning');
    expect(event?.note).toContain('deletes of 3 of the 10 records owned there');
    expect(event?.note).toContain(`n7.${zoneName} A`);
    expect(event?.note).toContain(
      `kubectl -n ${STATE.namespace} annotate configmap ${STATE.name} ${CONFIRM_ANNOTATION}=${zoneName}`,
    );
    expect(await names(provider, zone)).toHaveLength(10);
    expect((await state())?.data?.[zoneName]).toBeUndefined();

    // An incremental reconcile of the held zone holds too: the Ingress waits on its finalizer.
    await client.delete(Ingresses, { namespace: ns, name: 'n0' });
    await new Promise((r) => setTimeout(r, 1000));
    expect(await names(provider, zone)).toContain(`n0.${zoneName}`);

    await client.patch(ConfigMaps, STATE, {
      type: 'merge',
      patch: { metadata: { annotations: { [CONFIRM_ANNOTATION]: zoneName } } },
    });
    await waitFor(async () => (await names(provider, zone)).length === 6, { timeoutMs: 15_000 });
    expect((await names(provider, zone)).sort()).toEqual(
      hosts.slice(1, 7).map((h) => `${h}.${zoneName}`),
    );
    const after = await state();
    expect(JSON.parse(after?.data?.[zoneName] ?? '{}')).toMatchObject({ ownerId: 'guard' });
    expect(after?.metadata?.annotations?.[CONFIRM_ANNOTATION]).toBeUndefined();
  });

  it('lets a first sync under the limit delete, remembers it across restarts, and guards another owner id', async () => {
    const cluster = await sharedCluster();
    const [ns, other] = [
      await cluster.createNamespace('guard'),
      await cluster.createNamespace('guard'),
    ];
    const zoneName = `kept-${suffix}.test`;
    const hosts = Array.from({ length: 10 }, (_, i) => `x${i}`);
    const { zone, provider } = await seededZone(zoneName, 'guard', ns, hosts);
    // 9 of 10 asked for: one delete, 10%, at the limit.
    await claim(ns, zoneName, hosts.slice(0, 9));
    await start(provider, 'guard', ns);
    await waitFor(async () => (await names(provider, zone)).length === 9, { timeoutMs: 15_000 });
    await waitFor(async () => (await state())?.data?.[zoneName] !== undefined);
    await running?.stop();

    // Down meanwhile: 1 of the 9 left (11%, over the limit for a first sync) goes on restart.
    await deleteWhileDown(ns, 'x0');
    await start(provider, 'guard', ns);
    await waitFor(async () => (await names(provider, zone)).length === 8, { timeoutMs: 15_000 });
    await running?.stop();

    // Another owner id in the same zone syncs it for the first time: held.
    const ys = Array.from({ length: 10 }, (_, i) => `y${i}`);
    const theirs = await seededZone(zoneName, 'guard-b', other, ys);
    await provider.apply(
      zone,
      (await theirs.provider.records(zone)).map((record) => ({ action: 'create', record })),
    );
    await claim(other, zoneName, ys.slice(0, 7));
    await start(provider, 'guard-b', other);
    const events = await heldEvent(zoneName);
    expect(events.some((e) => e.note?.includes('deletes of 3 of the 10 records'))).toBe(true);
    expect((await names(provider, zone)).filter((n) => n.startsWith('y'))).toHaveLength(10);
  });
});
