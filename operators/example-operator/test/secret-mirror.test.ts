// The operator against a real API server, under the RBAC of its chart (operatorKubeConfig).
// Tests share one cluster with other files: every namespace they select carries a label
// unique to this run, so nothing else is mirrored into or out of.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  Client,
  createLogger,
  type Event,
  Events,
  isNotFound,
  Manager,
  Namespaces,
  notFoundIsUndefined,
  Secrets,
} from '@chousei/runtime';
import {
  type RunningManager,
  startManager,
  waitFor,
  waitForCondition,
} from '@chousei/runtime/testing';
import { freePort } from '@chousei/testenv';
import { operatorKubeConfig, operatorServiceAccount, sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRDS, Reason, type SecretMirror, SecretMirrors } from '../src/api/secretmirror.js';
import { setupSecretMirror } from '../src/operator.js';
import { FINALIZER, OPERATOR, OWNER_ANNOTATION, OWNER_LABEL } from '../src/reconciler.js';

const logLevel = process.env.TEST_LOG ?? 'silent';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const run = randomBytes(3).toString('hex');
/** A label only this file's namespaces carry: `team=<run>-<name>`. */
const team = (name: string) => ({ team: `${run}-${name}` });

let admin: Client;
let home: string;

beforeAll(async () => {
  const cluster = await sharedCluster();
  await cluster.apply(CRDS);
  home = await cluster.createNamespace('mirror');
  admin = new Client(cluster.kubeConfig);
});

const namespace = async (labels: Record<string, string> = {}) => {
  const name = `target-${randomBytes(4).toString('hex')}`;
  await admin.create(Namespaces, { metadata: { name, labels } });
  return name;
};
const secretIn = (ns: string, name: string) =>
  admin.get(Secrets, { namespace: ns, name }).catch(notFoundIsUndefined);
const createSource = (name: string, data: Record<string, string>) =>
  admin.create(Secrets, {
    metadata: { name, namespace: home },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  });
const createMirror = (name: string, spec: SecretMirror['spec']) =>
  admin.create(SecretMirrors, { metadata: { name, namespace: home }, spec });
const getMirror = (name: string) => admin.get(SecretMirrors, { namespace: home, name });
/** The SecretMirror once `ok` holds for it: its status settles over a reconcile or two. */
const mirrorWhen = (name: string, ok: (m: SecretMirror) => boolean) =>
  waitFor(async () => {
    const m = await getMirror(name);
    return ok(m) && m;
  });
const ready = (m: SecretMirror) => m.status?.conditions?.find((c) => c.type === 'Ready');
const eventsOf = async (name: string, reason: string): Promise<Event[]> =>
  (await admin.list(Events, { namespace: home })).filter(
    (e) => e.regarding?.name === name && e.regarding.kind === 'SecretMirror' && e.reason === reason,
  );
/** The Events of that reason about a SecretMirror, once there is one (they are written in the background). */
const eventually = (name: string, reason: string) =>
  waitFor(async () => {
    const events = await eventsOf(name, reason);
    return events.length > 0 && events;
  });

describe('secret-mirror controller', () => {
  let manager: Manager;
  let running: RunningManager;

  beforeAll(async () => {
    manager = new Manager({
      kubeConfig: await operatorKubeConfig(),
      logger: createLogger({ level: logLevel }),
      healthProbePort: false,
      metricsPort: 0,
      leaderElection: {
        name: `example-operator-${run}`,
        namespace: operatorServiceAccount().namespace,
        leaseDurationMs: 3000,
        renewDeadlineMs: 2000,
        retryPeriodMs: 300,
      },
    });
    setupSecretMirror(manager);
    running = await startManager(manager);
  });
  afterAll(() => running?.stop());

  const metric = async (name: string) => {
    const text = await (await fetch(`http://127.0.0.1:${manager.ports[0]}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`example_mirrored_secrets{namespace="${home}",name="${name}"}`));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  };

  it('copies the source into each selected namespace, keeps the copies in step, reports Ready', async () => {
    const [a, b, other] = await Promise.all([
      namespace(team('db')),
      namespace(team('db')),
      namespace(),
    ]);
    await createSource('db', { user: 'app', password: 'one' });
    await createMirror('db', {
      sourceRef: { name: 'db' },
      namespaceSelector: { matchLabels: team('db') },
    });

    const mirror = await mirrorWhen(
      'db',
      (m) => m.status?.mirroredTo?.join() === [a, b].sort().join(),
    );
    expect(ready(mirror)).toMatchObject({ status: 'True', reason: Reason.Mirrored });
    expect(ready(mirror)?.observedGeneration).toBe(mirror.metadata?.generation);
    expect(mirror.status?.observedGeneration).toBe(mirror.metadata?.generation);
    expect(mirror.metadata?.finalizers).toContain(FINALIZER);
    const copy = await secretIn(a, 'db');
    expect(copy?.data).toEqual({ user: b64('app'), password: b64('one') });
    expect(copy?.metadata?.labels?.[OWNER_LABEL]).toBe(mirror.metadata?.uid);
    expect(copy?.metadata?.annotations?.[OWNER_ANNOTATION]).toBe(`${home}/db`);
    expect(await secretIn(other, 'db')).toBeUndefined();
    expect(await secretIn(home, 'db')).toBeDefined();
    await eventually('db', Reason.Mirrored);
    expect(await metric('db')).toBe(2);

    // A changed source: a new value, and a key gone from it is gone from the copies too.
    await admin.patch(
      Secrets,
      { namespace: home, name: 'db' },
      { type: 'merge', patch: { data: { user: null, password: b64('two') } } },
    );
    for (const ns of [a, b]) {
      await waitFor(async () => (await secretIn(ns, 'db'))?.data?.password === b64('two'));
      expect((await secretIn(ns, 'db'))?.data).toEqual({ password: b64('two') });
    }

    // A copy edited by hand is put back.
    await admin.patch(
      Secrets,
      { namespace: b, name: 'db' },
      { type: 'merge', patch: { data: { password: b64('tampered') } } },
    );
    await waitFor(async () => (await secretIn(b, 'db'))?.data?.password === b64('two'));
  });

  it('follows the selector: namespaces labelled later get a copy, unlabelled ones lose it', async () => {
    const [stays, leaves] = await Promise.all([namespace(team('api')), namespace(team('api'))]);
    await createSource('api', { token: 't0' });
    await createMirror('api', {
      sourceRef: { name: 'api' },
      namespaceSelector: {
        matchExpressions: [{ key: 'team', operator: 'In', values: [team('api').team] }],
      },
    });
    await waitFor(async () => (await getMirror('api')).status?.mirroredTo?.length === 2);

    // Created after the SecretMirror, and labelled only later still.
    const later = await namespace();
    await admin.patch(
      Namespaces,
      { name: later },
      { type: 'merge', patch: { metadata: { labels: team('api') } } },
    );
    await waitFor(async () => (await secretIn(later, 'api'))?.data?.token === b64('t0'));

    await admin.patch(
      Namespaces,
      { name: leaves },
      { type: 'merge', patch: { metadata: { labels: { team: null } } } },
    );
    await waitFor(async () => (await secretIn(leaves, 'api')) === undefined);
    const mirror = await mirrorWhen(
      'api',
      (m) => m.status?.mirroredTo?.join() === [stays, later].sort().join(),
    );
    expect(ready(mirror)).toMatchObject({ status: 'True', reason: Reason.Mirrored });
    await eventually('api', 'Deleted');
  });

  it('never overwrites a Secret it did not make: Conflict, with a Warning Event', async () => {
    const [taken, free] = await Promise.all([namespace(team('cfg')), namespace(team('cfg'))]);
    await admin.create(Secrets, {
      metadata: { name: 'cfg', namespace: taken },
      stringData: { mine: 'keep me' },
    });
    await createSource('cfg', { key: 'mirrored' });
    await createMirror('cfg', {
      sourceRef: { name: 'cfg' },
      namespaceSelector: { matchLabels: team('cfg') },
    });

    const mirror = await mirrorWhen(
      'cfg',
      (m) => m.status?.mirroredTo?.join() === free && ready(m)?.reason === Reason.Conflict,
    );
    expect(ready(mirror)?.status).toBe('False');
    expect(ready(mirror)?.message).toContain(taken);
    expect((await secretIn(free, 'cfg'))?.data).toEqual({ key: b64('mirrored') });
    const untouched = await secretIn(taken, 'cfg');
    expect(untouched?.data).toEqual({ mine: b64('keep me') });
    expect(untouched?.metadata?.labels).toBeUndefined();

    const [warning] = await eventually('cfg', Reason.Conflict);
    expect(warning?.type).toBe('Warning');
    expect(warning?.note).toContain(`${taken}/cfg`);

    // Looked at again (any change to a Secret of that name), the conflict is one Event
    // whose series counts the repeats.
    await admin.patch(
      Secrets,
      { namespace: taken, name: 'cfg' },
      { type: 'merge', patch: { metadata: { labels: { touched: 'yes' } } } },
    );
    await waitFor(async () => {
      await manager.eventRecorder(OPERATOR).flush();
      const events = await eventsOf('cfg', Reason.Conflict);
      return events.length === 1 && (events[0]?.series?.count ?? 0) >= 2;
    });
    expect((await secretIn(taken, 'cfg'))?.data).toEqual({ mine: b64('keep me') });

    // Once the Secret in the way is gone, the copy is made.
    await admin.delete(Secrets, { namespace: taken, name: 'cfg' });
    await waitForCondition(admin, SecretMirrors, { namespace: home, name: 'cfg' }, 'Ready');
    expect((await secretIn(taken, 'cfg'))?.data).toEqual({ key: b64('mirrored') });
    expect((await getMirror('cfg')).status?.mirroredTo).toEqual([free, taken].sort());
  });

  it('waits for a missing source, SourceNotFound until it exists', async () => {
    const target = await namespace(team('late'));
    await createMirror('late', {
      sourceRef: { name: 'late' },
      namespaceSelector: { matchLabels: team('late') },
    });
    const waiting = await mirrorWhen('late', (m) => ready(m)?.status === 'False');
    expect(ready(waiting)?.reason).toBe(Reason.SourceNotFound);
    expect(waiting.status?.mirroredTo).toEqual([]);
    await eventually('late', Reason.SourceNotFound);

    await createSource('late', { v: '1' });
    const mirrored = await mirrorWhen('late', (m) => m.status?.mirroredTo?.join() === target);
    expect(ready(mirrored)).toMatchObject({ status: 'True', reason: Reason.Mirrored });
    expect((await secretIn(target, 'late'))?.data).toEqual({ v: b64('1') });
  });

  it('deletes every copy when the SecretMirror is deleted, then lets it go', async () => {
    const mirror = await getMirror('db');
    const copies = mirror.status?.mirroredTo ?? [];
    expect(copies.length).toBe(2);
    await admin.delete(SecretMirrors, { namespace: home, name: 'db' });
    await waitFor(() => getMirror('db').then(() => false, isNotFound));
    for (const ns of copies) expect(await secretIn(ns, 'db')).toBeUndefined();
    expect(await secretIn(home, 'db')).toBeDefined();
    expect(await metric('db')).toBeUndefined();
  });
});

describe('chousei-example-operator command', () => {
  const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
  let child: ChildProcess;
  let stdout = '';

  afterAll(() => {
    child?.kill('SIGKILL');
  });

  it('runs from flags with leader election, probes and metrics, and stops cleanly on SIGTERM', async () => {
    const cluster = await sharedCluster();
    const kubeconfig = await cluster.writeKubeconfig(
      await operatorKubeConfig(),
      `kubeconfig-${run}`,
    );
    const [metrics, health] = [await freePort(), await freePort()];
    child = spawn(
      process.execPath,
      [
        main,
        `--kubeconfig=${kubeconfig}`,
        '--leader-elect',
        `--leader-election-id=example-operator-cli-${run}`,
        `--metrics-port=${metrics}`,
        `--health-port=${health}`,
        '--bind-address=127.0.0.1',
      ],
      // The namespace of the Lease comes from the environment, as in the Deployment.
      { env: { PATH: process.env.PATH ?? '', POD_NAMESPACE: operatorServiceAccount().namespace } },
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));

    const target = await namespace(team('cli'));
    await createSource('cli', { k: 'v' });
    await createMirror('cli', {
      sourceRef: { name: 'cli' },
      namespaceSelector: { matchLabels: team('cli') },
    });
    const mirror = await mirrorWhen('cli', (m) => m.status?.mirroredTo?.join() === target);
    expect(ready(mirror)?.status).toBe('True');
    expect((await secretIn(target, 'cli'))?.data).toEqual({ k: b64('v') });

    expect((await fetch(`http://127.0.0.1:${health}/readyz`)).status).toBe(200);
    const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
    expect(text).toContain(`example_mirrored_secrets{namespace="${home}",name="cli"} 1`);
    expect(text).toContain('leader_election_master_status{name="example-operator-cli-');
    // Both servers listen on loopback only (--bind-address), on no other address.
    expect(await listeningAddresses(health)).toEqual(['127.0.0.1']);
    expect(await listeningAddresses(metrics)).toEqual(['127.0.0.1']);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const lines = stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.msg === 'copied')).toMatchObject({
      controller: 'secret-mirror',
      namespace: home,
      name: 'cli',
    });
  });
});

/** The local addresses listening on a TCP port, from the kernel's socket tables (Linux). */
async function listeningAddresses(port: number): Promise<string[]> {
  const found: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (await readFile(table, 'utf8')).split('\n').slice(1)) {
      // sl local_address rem_address st ...; addresses are HEX:PORT, state 0A is LISTEN.
      const [, local, , state] = line.trim().split(/\s+/);
      const [addr, hexPort] = local?.split(':') ?? [];
      if (state !== '0A' || !addr || Number.parseInt(hexPort ?? '', 16) !== port) continue;
      // IPv4 is stored little-endian: 0100007F is 127.0.0.1.
      found.push(
        addr.length === 8
          ? (addr.match(/../g) ?? [])
              .reverse()
              .map((b) => Number.parseInt(b, 16))
              .join('.')
          : addr,
      );
    }
  }
  return found;
}
