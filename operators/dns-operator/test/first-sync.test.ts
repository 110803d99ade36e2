// The first-sync guard against a real API server: its state in the ConfigMap the chart's
// RBAC allows (chousei-dns-operator-first-sync in the release namespace), its Event there,
// a user's confirmation by annotation. Each scenario has zones of its own: other files may
// keep their zones' state in the same ConfigMap meanwhile.
import { InMemoryProvider, type RecordSet, TxtRegistry, type Zone } from '@chousei/dns';
import {
  Client,
  ConfigMaps,
  createLogger,
  type Event,
  type Ingress,
  Ingresses,
  Manager,
  notFoundIsUndefined,
} from '@chousei/runtime';
import { type RunningManager, startManager, waitFor, waitForEvent } from '@chousei/runtime/testing';
import { operatorKubeConfig, sharedCluster } from '@chousei/testenv/vitest';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
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

/** TXT naming the operator runs with: a change of it is a first sync again. */
interface Naming {
  txtPrefix?: string;
  txtSuffix?: string;
}

/** A zone holding `owned` A records, each with the ownership TXT of `owner`. */
async function seededZone(
  name: string,
  owner: string,
  ns: string,
  hosts: string[],
  naming: Naming = {},
) {
  const zone: Zone = { id: name, name };
  const provider = new InMemoryProvider([name]);
  const registry = new TxtRegistry({
    ownerId: owner,
    ...(naming.txtPrefix ? { prefix: naming.txtPrefix } : {}),
    ...(naming.txtSuffix ? { suffix: naming.txtSuffix } : {}),
  });
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

interface StartOptions extends Naming {
  /** The operator's flags the guard's limit is read from (default 10%). */
  flags?: string[];
  /** Where its log lines go, besides TEST_LOG's level. */
  logs?: string[];
}

async function start(
  provider: InMemoryProvider,
  ownerId: string,
  namespace: string,
  opts: StartOptions = {},
) {
  const manager = new Manager({
    kubeConfig: await operatorKubeConfig(),
    healthProbePort: false,
    metricsPort: false,
    logger: createLogger({ level: logLevel }),
  });
  const { deleteLimit } = parseConfig(['--provider=inmemory', ...(opts.flags ?? [])], {}).firstSync;
  const logs = opts.logs;
  setupDnsOperator(manager, {
    provider,
    sources: ['ingress'],
    ownerId,
    namespace,
    ...(opts.txtPrefix ? { txtPrefix: opts.txtPrefix } : {}),
    ...(opts.txtSuffix ? { txtSuffix: opts.txtSuffix } : {}),
    firstSync: { deleteLimit, configMap: STATE, confirmPollMs: 200 },
    logger: createLogger({
      level: logs ? 'info' : logLevel,
      ...(logs ? { destination: { write: (line: string) => void logs.push(line) } } : {}),
    }),
  });
  running = await startManager(manager);
}

const names = async (provider: InMemoryProvider, zone: Zone) =>
  (await provider.records(zone)).filter((r: RecordSet) => r.type === 'A').map((r) => r.name);
const state = () => client.get(ConfigMaps, STATE).catch(notFoundIsUndefined);
/** The DeletesHeld Events of `zone`, once there is one: other files' zones share the ConfigMap. */
const heldEvent = async (zone: string) => {
  const held = (e: Event) => e.reason === 'DeletesHeld' && !!e.note?.includes(`zone ${zone} `);
  return (await waitForEvent(client, { kind: 'ConfigMap', ...STATE }, held)).filter(held);
};

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
    const logs: string[] = [];
    await start(provider, 'guard', ns, { logs });

    const [event] = await heldEvent(zoneName);
    expect(event?.type).toBe('Warning');
    expect(event?.note).toContain('deletes of 3 of the 10 records owned there');
    expect(event?.note).toContain('no watched object asks for them');
    expect(event?.note).toContain(`n7.${zoneName} A`);
    expect(event?.note).toContain(
      `kubectl -n ${STATE.namespace} annotate configmap ${STATE.name} ${CONFIRM_ANNOTATION}=${zoneName}`,
    );
    // The log line says the same, naming every record held.
    const line = logs.map((l) => JSON.parse(l)).find((l) => l.zone === zoneName && l.held);
    expect(line).toMatchObject({ level: 'warn', held: 3, owned: 10 });
    expect(line?.msg).toBe(event?.note);
    expect(line?.records.sort()).toEqual(hosts.slice(7).map((h) => `${h}.${zoneName} A`));
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

  it('lets held deletes go when the operator restarts with --first-sync-delete-limit=100%', async () => {
    const cluster = await sharedCluster();
    const ns = await cluster.createNamespace('guard');
    const zoneName = `flag-${suffix}.test`;
    const hosts = Array.from({ length: 10 }, (_, i) => `f${i}`);
    const { zone, provider } = await seededZone(zoneName, 'guard', ns, hosts);
    await claim(ns, zoneName, hosts.slice(0, 5));
    await start(provider, 'guard', ns);
    await heldEvent(zoneName);
    expect(await names(provider, zone)).toHaveLength(10);
    await running?.stop();

    // The confirmation the held Event offers without a ConfigMap: the limit raised to 100%.
    await start(provider, 'guard', ns, { flags: ['--first-sync-delete-limit=100%'] });
    await waitFor(async () => (await names(provider, zone)).length === 5, { timeoutMs: 15_000 });
  });

  for (const naming of [{ txtPrefix: 'own-' }, { txtSuffix: '-own' }] satisfies Naming[]) {
    it(`holds again after a change of TXT naming (${JSON.stringify(naming)})`, async () => {
      const cluster = await sharedCluster();
      const ns = await cluster.createNamespace('guard');
      const zoneName = `renamed-${Object.keys(naming)[0]?.toLowerCase()}-${suffix}.test`;
      const hosts = Array.from({ length: 10 }, (_, i) => `r${i}`);
      // Owned under both namings: the one the operator syncs under first, and the new one.
      const { zone, provider } = await seededZone(zoneName, 'guard', ns, hosts);
      const renamed = await seededZone(zoneName, 'guard', ns, hosts, naming);
      await provider.apply(
        zone,
        (await renamed.provider.records(zone))
          .filter((r) => r.type === 'TXT')
          .map((record) => ({ action: 'create', record })),
      );
      await claim(ns, zoneName, hosts);
      await start(provider, 'guard', ns);
      await waitFor(async () => (await state())?.data?.[zoneName] !== undefined);
      await running?.stop();

      // Under the new naming, 3 of the 10 no longer asked for: a first sync, held.
      for (const host of hosts.slice(7)) await deleteWhileDown(ns, host);
      await start(provider, 'guard', ns, naming);
      const events = await heldEvent(zoneName);
      expect(events.some((e) => e.note?.includes('deletes of 3 of the 10 records'))).toBe(true);
      expect(await names(provider, zone)).toHaveLength(10);
    });
  }
});
