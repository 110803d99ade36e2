import { sharedCluster } from '@chousei/testenv/vitest';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/client/client.js';
import { ConfigMaps, Events, Namespaces } from '../src/client/resource.js';
import type { ConfigMap, Event, KubeObject } from '../src/client/types.js';
import { EventRecorder } from '../src/helpers/events.js';
import { WaitTimeoutError, waitForEvent } from '../src/testing/index.js';

const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

describe('EventRecorder', () => {
  let client: Client;
  let ns: string;
  let seq = 0;

  const configMap = async (): Promise<ConfigMap> => {
    const cm = await client.create(ConfigMaps, {
      metadata: { name: `cm-${++seq}`, namespace: ns },
    });
    expect(cm.kind).toBe('ConfigMap');
    return cm;
  };
  const eventsAbout = async (obj: KubeObject, namespace = ns): Promise<Event[]> =>
    (await client.list(Events, { namespace })).filter(
      (e) => e.regarding?.uid === obj.metadata?.uid,
    );

  beforeAll(async () => {
    const cluster = await sharedCluster();
    client = new Client(cluster.kubeConfig);
    ns = await cluster.createNamespace('events');
  });

  it('writes an events.k8s.io/v1 Event about the object', async () => {
    const cm = await configMap();
    const related = await configMap();
    const recorder = new EventRecorder(client, {
      controller: 'test.chousei.dev/op',
      instance: 'op-0',
    });
    const ret = recorder.event(cm, 'Warning', 'SyncFailed', 'Sync', 'backend said no', related);
    expect(ret).toBeUndefined();
    await recorder.flush();

    const events = await eventsAbout(cm);
    expect(events).toHaveLength(1);
    const ev = events[0]!;
    expect(ev.metadata?.namespace).toBe(ns);
    expect(ev.metadata?.name).toMatch(new RegExp(`^${cm.metadata?.name}\\.[0-9a-f]{16}$`));
    expect(ev).toMatchObject({
      type: 'Warning',
      reason: 'SyncFailed',
      action: 'Sync',
      note: 'backend said no',
      reportingController: 'test.chousei.dev/op',
      reportingInstance: 'op-0',
      regarding: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        name: cm.metadata?.name,
        namespace: ns,
        uid: cm.metadata?.uid,
        resourceVersion: cm.metadata?.resourceVersion,
      },
      related: { kind: 'ConfigMap', name: related.metadata?.name, uid: related.metadata?.uid },
    });
    expect(ev.eventTime).toMatch(MICRO_TIME);
    expect(ev.series).toBeUndefined();
    // Also readable by get as events.k8s.io/v1.
    const got = await client.get(Events, { namespace: ns, name: ev.metadata?.name ?? '' });
    expect(got.apiVersion).toBe('events.k8s.io/v1');
    expect(got.kind).toBe('Event');
  });

  it('aggregates 20 identical events into one Event with a series', async () => {
    const cm = await configMap();
    const recorder = new EventRecorder(client, { controller: 'test.chousei.dev/op' });
    for (let i = 0; i < 20; i++) {
      recorder.event(cm, 'Warning', 'SyncFailed', 'Sync', 'same note every time');
    }
    await recorder.flush();

    const events = await eventsAbout(cm);
    expect(events).toHaveLength(1);
    expect(events[0]?.series?.count).toBe(20);
    expect(events[0]?.series?.lastObservedTime).toMatch(MICRO_TIME);
    expect(events[0]?.note).toBe('same note every time');

    // Later repeats keep counting on the same Event.
    recorder.event(cm, 'Warning', 'SyncFailed', 'Sync', 'same note every time');
    await recorder.flush();
    const later = await eventsAbout(cm);
    expect(later).toHaveLength(1);
    expect(later[0]?.series?.count).toBe(21);
  });

  it('writes a repeat whose Event is gone (expired) as a new Event carrying the series', async () => {
    const cm = await configMap();
    const recorder = new EventRecorder(client, {
      controller: 'test.chousei.dev/op',
      seriesUpdateIntervalMs: 0,
    });
    recorder.event(cm, 'Warning', 'SyncFailed', 'Sync', 'gone and back');
    await recorder.flush();
    const [first] = await eventsAbout(cm);
    await client.delete(Events, { namespace: ns, name: first?.metadata?.name ?? '' });

    recorder.event(cm, 'Warning', 'SyncFailed', 'Sync', 'gone and back');
    recorder.event(cm, 'Warning', 'SyncFailed', 'Sync', 'gone and back');
    await recorder.flush();
    const events = await eventsAbout(cm);
    expect(events).toHaveLength(1);
    expect(events[0]?.metadata?.name).not.toBe(first?.metadata?.name);
    expect(events[0]).toMatchObject({
      eventTime: first?.eventTime,
      note: 'gone and back',
      reason: 'SyncFailed',
      series: { count: 3 },
    });
  });

  it('keeps different notes, reasons, types and objects apart', async () => {
    const cm = await configMap();
    const other = await configMap();
    const recorder = new EventRecorder(client, { controller: 'test.chousei.dev/op' });
    for (let i = 0; i < 3; i++) {
      recorder.event(cm, 'Normal', 'Synced', 'Sync', 'note A');
      recorder.event(cm, 'Normal', 'Synced', 'Sync', 'note B');
      recorder.event(cm, 'Warning', 'Synced', 'Sync', 'note A');
      recorder.event(cm, 'Normal', 'Created', 'Sync', 'note A');
      recorder.event(other, 'Normal', 'Synced', 'Sync', 'note A');
    }
    await recorder.flush();

    const events = await eventsAbout(cm);
    expect(events.map((e) => `${e.type}/${e.reason}/${e.note}`).sort()).toEqual([
      'Normal/Created/note A',
      'Normal/Synced/note A',
      'Normal/Synced/note B',
      'Warning/Synced/note A',
    ]);
    for (const e of events) expect(e.series?.count).toBe(3);
    expect(await eventsAbout(other)).toHaveLength(1);
  });

  it('rate limits series updates, writing the latest count at the next allowed moment', async () => {
    const cm = await configMap();
    const recorder = new EventRecorder(client, {
      controller: 'test.chousei.dev/op',
      seriesUpdateIntervalMs: 2_000,
    });
    recorder.event(cm, 'Normal', 'Tick', 'Tick', 'tick');
    await recorder.flush();
    const created = Date.now();
    for (let i = 0; i < 4; i++) recorder.event(cm, 'Normal', 'Tick', 'Tick', 'tick');

    // Within the interval the repeats are only counted, not written.
    await new Promise((r) => setTimeout(r, 300));
    const early = await eventsAbout(cm);
    expect(early).toHaveLength(1);
    if (Date.now() - created < 1_500) expect(early[0]?.series).toBeUndefined();

    // Without any flush, the interval passes and the latest count lands.
    let count: number | undefined;
    for (let i = 0; i < 50 && count !== 5; i++) {
      await new Promise((r) => setTimeout(r, 200));
      count = (await eventsAbout(cm))[0]?.series?.count;
    }
    expect(count).toBe(5);
    expect(await eventsAbout(cm)).toHaveLength(1);
    await recorder.flush();
  });

  it('files events about cluster-scoped objects in the default namespace', async () => {
    const recorder = new EventRecorder(client, { controller: 'test.chousei.dev/op' });
    const nsObj = await client.get(Namespaces, { name: ns });
    recorder.event(nsObj, 'Normal', 'Observed', 'Watch', 'seen');
    // A name that is no DNS subdomain still yields a valid Event name.
    const role: KubeObject = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: `system:chousei:${ns}`, uid: `uid-${ns}` },
    };
    recorder.event(role, 'Normal', 'Observed', 'Watch', 'seen');
    await recorder.flush();

    const [ev] = await eventsAbout(nsObj, 'default');
    expect(ev?.metadata?.namespace).toBe('default');
    expect(ev?.regarding).toMatchObject({ kind: 'Namespace', name: ns, uid: nsObj.metadata?.uid });
    expect(ev?.regarding?.namespace).toBeUndefined();
    const [roleEv] = await eventsAbout(role, 'default');
    expect(roleEv?.regarding?.name).toBe(`system:chousei:${ns}`);
    expect(roleEv?.metadata?.name).toMatch(new RegExp(`^system-chousei-${ns}\\.[0-9a-f]{16}$`));
  });

  it('truncates notes to the 1 kB API limit without splitting characters', async () => {
    const cm = await configMap();
    const recorder = new EventRecorder(client, { controller: 'test.chousei.dev/op' });
    recorder.event(cm, 'Warning', 'Long', 'Sync', 'x'.repeat(5000));
    recorder.event(cm, 'Warning', 'Wide', 'Sync', 'é'.repeat(1000));
    await recorder.flush();

    const events = await eventsAbout(cm);
    expect(events).toHaveLength(2);
    for (const e of events) {
      const note = e.note ?? '';
      expect(Buffer.byteLength(note)).toBeLessThanOrEqual(1024);
      expect(Buffer.byteLength(note)).toBeGreaterThan(1000);
      expect(note.endsWith('...')).toBe(true);
      expect(note).not.toContain('\uFFFD');
    }
  });

  it('given up (a shutdown out of time), drops the writes not started and says how many', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const recorder = new EventRecorder(client, { controller: 'test.chousei.dev/op', logger });
    const cm = await configMap();
    for (let i = 0; i < 200; i++) recorder.event(cm, 'Normal', 'Burst', 'Sync', `event ${i}`);
    const started = Date.now();
    await recorder.flush(AbortSignal.timeout(100));
    expect(Date.now() - started).toBeLessThan(1000);
    const warning = JSON.parse(lines.find((l) => l.includes('Events not written')) ?? '{}');
    expect(warning.dropped).toBeGreaterThan(0);
    // What was dropped is not written later behind the caller's back.
    await new Promise((r) => setTimeout(r, 500));
    expect((await eventsAbout(cm)).length).toBeLessThan(200);
  });

  it('never throws into the caller; failures are logged', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => lines.push(line) });
    const recorder = new EventRecorder(client, { controller: 'test.chousei.dev/op', logger });
    const ghost: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'ghost', namespace: `no-such-namespace-${ns}`, uid: 'uid-ghost' },
    };
    expect(() => recorder.event(ghost, 'Warning', 'Lost', 'Sync', 'nowhere to go')).not.toThrow();
    // Not even a value the API rejects throws.
    const cm = await configMap();
    expect(() =>
      recorder.event(cm, 'Bogus' as 'Normal', 'Bad reason with spaces', 'Sync', 'x'),
    ).not.toThrow();
    await expect(recorder.flush()).resolves.toBeUndefined();

    expect(lines.some((l) => l.includes('failed to record event') && l.includes('Lost'))).toBe(
      true,
    );
    expect(lines.some((l) => l.includes('Bad reason with spaces'))).toBe(true);
    expect(await eventsAbout(cm)).toHaveLength(0);
  });

  it('is waited for by waitForEvent: the Event named, not one an earlier step made', async () => {
    const cm = await configMap();
    const recorder = new EventRecorder(client, { controller: 'test.chousei.dev/op' });
    recorder.event(cm, 'Normal', 'Synced', 'Sync', 'first');
    await recorder.flush();
    const subject = { kind: 'ConfigMap', namespace: ns, name: cm.metadata?.name ?? '' };
    const second = waitForEvent(client, subject, (e) => e.note === 'second', { timeoutMs: 5000 });
    // Recorded once the wait is under way, and written in the background.
    setTimeout(() => recorder.event(cm, 'Normal', 'Synced', 'Sync', 'second'), 300);
    expect((await second).map((e) => e.note).sort()).toEqual(['first', 'second']);
    // Events about another object do not count; the timeout names what was awaited.
    const other = waitForEvent(client, { ...subject, name: 'other' }, () => true, {
      timeoutMs: 300,
    });
    await expect(other).rejects.toThrow(WaitTimeoutError);
    await expect(other).rejects.toThrow(
      `an Event about ConfigMap ${ns}/other not met within 300 ms`,
    );
  });
});
