import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCA, issueCert } from '@chousei/testenv';
import { sharedCluster } from '@chousei/testenv/vitest';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/client/client.js';
import { ConfigMaps, Leases } from '../src/client/resource.js';
import { LeaderElector } from '../src/manager/leader-election.js';
import { Manager, RunnableFailedError } from '../src/manager/manager.js';
import { sleep } from '../src/util/async.js';
import { WebhookServer } from '../src/webhook/server.js';

const fixture = fileURLToPath(new URL('./fixtures/manager.mjs', import.meta.url));

interface LogLine {
  msg: string;
  time: string;
  [k: string]: unknown;
}

/** A manager process whose JSON log lines are collected with their arrival time. */
class ManagerProcess {
  readonly child: ChildProcess;
  readonly lines: Array<LogLine & { at: number }> = [];
  exitedAt: number | undefined;
  exitCode: number | null | undefined;

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, [fixture], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buffered = '';
    this.child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) {
        if (line.startsWith('{'))
          this.lines.push({ ...(JSON.parse(line) as LogLine), at: Date.now() });
      }
    });
    this.child.once('exit', (code) => {
      this.exitedAt = Date.now();
      this.exitCode = code;
    });
  }

  logged(msg: string): (LogLine & { at: number }) | undefined {
    return this.lines.find((l) => l.msg === msg);
  }

  async waitFor(msg: string, timeout = 15_000): Promise<LogLine & { at: number }> {
    await expect.poll(() => this.logged(msg), { timeout, interval: 20 }).toBeTruthy();
    return this.logged(msg)!;
  }

  async exited(timeout = 15_000): Promise<void> {
    await expect.poll(() => this.exitedAt, { timeout, interval: 20 }).toBeDefined();
  }
}

describe('manager', () => {
  let cluster: Awaited<ReturnType<typeof sharedCluster>>;
  let client: Client;
  const procs: ManagerProcess[] = [];

  beforeAll(async () => {
    cluster = await sharedCluster();
    client = new Client(cluster.kubeConfig);
  });
  afterAll(() => {
    for (const p of procs) p.child.kill('SIGKILL');
  });

  it('serves probes and Prometheus metrics with the names dashboards use', async () => {
    const ns = await cluster.createNamespace('mgr');
    const manager = new Manager({
      kubeConfig: cluster.kubeConfig,
      healthProbePort: 0,
      metricsPort: 0,
      leaderElection: { name: 'probe-test', namespace: ns, retryPeriodMs: 200 },
    });
    const certDir = await mkdtemp(join(tmpdir(), 'mgr-webhook-'));
    const ca = await createCA(certDir, 'ca');
    const pair = await issueCert(ca, certDir, 'tls', {
      commonName: 'webhook',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    });
    const webhook = new WebhookServer({
      port: 0,
      host: '127.0.0.1',
      certFile: pair.certPath,
      keyFile: pair.keyPath,
    });
    manager.addWebhookServer(webhook);
    let reconciled = 0;
    manager
      .controller('probe-test')
      .for(ConfigMaps, { namespace: ns })
      .complete(async () => {
        reconciled++;
      });
    const stop = new AbortController();
    const done = manager.start(stop.signal);
    await client.create(ConfigMaps, { metadata: { name: 'x', namespace: ns } });
    await expect.poll(() => reconciled).toBeGreaterThan(0);
    const [probePort, metricsPort] = manager.ports;
    expect((await fetch(`http://127.0.0.1:${probePort}/healthz`)).status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${probePort}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toContain('[+]informers-synced ok');
    const readyText = await (await fetch(`http://127.0.0.1:${probePort}/readyz`)).text();
    expect(readyText).toContain('[+]webhook ok');
    const webhookHealth = await new Promise<number>((resolve, reject) =>
      httpsGet(`https://127.0.0.1:${webhook.port}/healthz`, { ca: ca.certPem }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject),
    );
    expect(webhookHealth).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    for (const name of [
      'controller_runtime_reconcile_total{controller="probe-test",result="success"}',
      'controller_runtime_reconcile_errors_total',
      'controller_runtime_reconcile_time_seconds_bucket',
      'controller_runtime_active_workers{controller="probe-test"}',
      'controller_runtime_max_concurrent_reconciles{controller="probe-test"} 1',
      'workqueue_depth{name="probe-test"}',
      'workqueue_adds_total{name="probe-test"}',
      'workqueue_queue_duration_seconds_bucket',
      'workqueue_work_duration_seconds_bucket',
      'workqueue_retries_total',
      'leader_election_master_status{name="probe-test"} 1',
      'rest_client_requests_total',
      'process_resident_memory_bytes',
      'process_cpu_seconds_total',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      expect(metrics).toContain(name);
    }
    stop.abort();
    await done;
    await expect(fetch(`http://127.0.0.1:${probePort}/healthz`)).rejects.toThrow();
    const lease = await client.get(Leases, { namespace: ns, name: 'probe-test' });
    expect(lease.spec?.holderIdentity).toBe('');
  });

  it('gives in-flight reconciles its grace period on shutdown, then cancels them', async () => {
    const manager = new Manager({
      kubeConfig: cluster.kubeConfig,
      healthProbePort: false,
      metricsPort: false,
      gracefulShutdownTimeoutMs: 300,
    });
    const ns = await cluster.createNamespace('grace');
    let started!: () => void;
    const inFlight = new Promise<void>((resolve) => {
      started = resolve;
    });
    manager
      .controller('stuck')
      .for(ConfigMaps, { namespace: ns })
      .complete({
        // Never finishes on its own: only the cancellation after the grace period ends it.
        reconcile: async (_req, { signal }) => {
          started();
          await new Promise((resolve) => signal.addEventListener('abort', resolve));
        },
      });
    const stop = new AbortController();
    const done = manager.start(stop.signal);
    await client.create(ConfigMaps, { metadata: { name: 'stuck', namespace: ns } });
    await inFlight;
    const stopping = Date.now();
    stop.abort();
    await done;
    // The manager's 300 ms, not the controllers' default of 30 s.
    expect(Date.now() - stopping).toBeLessThan(5_000);
  });

  it('ends a shutdown within its grace period in all, naming a reconcile that ignores it', async () => {
    const lines: string[] = [];
    const manager = new Manager({
      kubeConfig: cluster.kubeConfig,
      healthProbePort: false,
      metricsPort: false,
      gracefulShutdownTimeoutMs: 1000,
      logger: pino({ level: 'info' }, { write: (line: string) => lines.push(line) }),
    });
    const ns = await cluster.createNamespace('deaf');
    let started!: () => void;
    const inFlight = new Promise<void>((resolve) => {
      started = resolve;
    });
    manager
      .controller('deaf')
      .for(ConfigMaps, { namespace: ns })
      .complete({
        // Deaf to its cancellation (a call that takes no signal): only the period ends it.
        reconcile: async () => {
          started();
          await new Promise(() => {});
        },
      });
    const stop = new AbortController();
    const done = manager.start(stop.signal);
    await client.create(ConfigMaps, { metadata: { name: 'deaf', namespace: ns } });
    await inFlight;
    const stopping = Date.now();
    stop.abort();
    await done;
    expect(Date.now() - stopping).toBeLessThan(1500);
    const warning = lines.map((l) => JSON.parse(l)).find((l) => l.msg.includes('grace period'));
    expect(warning).toMatchObject({
      msg: 'not stopped within the grace period',
      running: ['controller deaf'],
    });
  });

  it('keeps the Lease while in-flight reconciles finish, and releases it after', async () => {
    const ns = await cluster.createNamespace('keep');
    const manager = new Manager({
      kubeConfig: cluster.kubeConfig,
      healthProbePort: false,
      metricsPort: false,
      gracefulShutdownTimeoutMs: 10_000,
      leaderElection: { name: 'keep', namespace: ns, retryPeriodMs: 200 },
    });
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    let started = false;
    manager
      .controller('slow')
      .for(ConfigMaps, { namespace: ns })
      .complete(async () => {
        started = true;
        await finished;
      });
    const stop = new AbortController();
    const done = manager.start(stop.signal);
    await client.create(ConfigMaps, { metadata: { name: 'slow', namespace: ns } });
    await expect.poll(() => started).toBe(true);
    stop.abort();
    // A second leader now would reconcile beside the one still finishing.
    await new Promise((r) => setTimeout(r, 600));
    const held = await client.get(Leases, { namespace: ns, name: 'keep' });
    expect(held.spec?.holderIdentity).not.toBe('');
    finish();
    await done;
    const released = await client.get(Leases, { namespace: ns, name: 'keep' });
    expect(released.spec?.holderIdentity).toBe('');
  });

  it('ends a wait on ctx.stopping as shutdown begins and hands the Lease over at once', async () => {
    const ns = await cluster.createNamespace('handover');
    const lines: string[] = [];
    const manager = new Manager({
      kubeConfig: cluster.kubeConfig,
      healthProbePort: false,
      metricsPort: false,
      gracefulShutdownTimeoutMs: 20_000,
      leaderElection: { name: 'handover', namespace: ns, retryPeriodMs: 200 },
      logger: pino({ level: 'info' }, { write: (line: string) => lines.push(line) }),
    });
    let started = false;
    manager
      .controller('polling')
      .for(ConfigMaps, { namespace: ns })
      .complete(async (_req, { stopping }) => {
        started = true;
        // A poll for something outside (a self-check): the next leader takes it up again.
        await sleep(60_000, stopping);
        stopping.throwIfAborted();
      });
    const stop = new AbortController();
    const done = manager.start(stop.signal);
    await client.create(ConfigMaps, { metadata: { name: 'polling', namespace: ns } });
    await expect.poll(() => started).toBe(true);
    const stopping = Date.now();
    stop.abort();
    await done;
    // Not the 20 s grace period: the wait ended with the shutdown's start.
    expect(Date.now() - stopping).toBeLessThan(3000);
    const released = await client.get(Leases, { namespace: ns, name: 'handover' });
    expect(released.spec?.holderIdentity).toBe('');
    const logged = lines.map((l) => JSON.parse(l));
    expect(logged.some((l) => l.msg === 'reconcile cancelled: stopping')).toBe(true);
    expect(logged.some((l) => l.msg === 'reconcile failed, will retry')).toBe(false);
  });

  it('shows a passing check with a caveat as ok, its detail in the body', async () => {
    const manager = new Manager({
      kubeConfig: cluster.kubeConfig,
      healthProbePort: 0,
      metricsPort: false,
    });
    manager.addReadyCheck('zones', () => ({ ok: true, detail: 'none managed' }));
    manager.addReadyCheck('plain', () => true);
    const stop = new AbortController();
    const done = manager.start(stop.signal);
    await expect.poll(() => manager.ports[0]).toBeGreaterThan(0);
    const ready = await fetch(`http://127.0.0.1:${manager.ports[0]}/readyz`);
    const body = await ready.text();
    stop.abort();
    await done;
    expect(ready.status).toBe(200);
    expect(body).toContain('[+]zones ok: none managed\n');
    expect(body).toContain('[+]plain ok\n');
  });

  it('starts a webhook server only once its startAfter resolves, unready until then', async () => {
    const manager = new Manager({
      kubeConfig: cluster.kubeConfig,
      healthProbePort: 0,
      metricsPort: false,
    });
    // An empty cert directory: the server could not start yet.
    const certDir = await mkdtemp(join(tmpdir(), 'mgr-webhook-after-'));
    const webhook = new WebhookServer({ port: 0, host: '127.0.0.1', certDir });
    let filesWritten!: () => void;
    const written = new Promise<void>((resolve) => {
      filesWritten = resolve;
    });
    manager.addWebhookServer(webhook, { startAfter: () => written });
    const stop = new AbortController();
    const done = manager.start(stop.signal);
    const readyz = async () => {
      const [probePort] = manager.ports;
      return (await fetch(`http://127.0.0.1:${probePort}/readyz`)).text();
    };
    await expect.poll(readyz).toContain('[-]webhook');
    const ca = await createCA(certDir, 'ca');
    await issueCert(ca, certDir, 'tls', {
      commonName: 'webhook',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    });
    filesWritten();
    await expect.poll(readyz).toContain('[+]webhook ok');
    expect(webhook.port).toBeGreaterThan(0);
    stop.abort();
    await done;
  });

  it('stops everything when a runnable fails, and rejects naming it', async () => {
    const ns = await cluster.createNamespace('fail');
    const manager = new Manager({
      kubeConfig: cluster.kubeConfig,
      healthProbePort: 0,
      metricsPort: false,
      leaderElection: { name: 'fail-test', namespace: ns, retryPeriodMs: 200 },
    });
    let reconciled = 0;
    manager
      .controller('fail-test')
      .for(ConfigMaps, { namespace: ns })
      .complete(async () => {
        reconciled++;
      });
    let fail!: (err: Error) => void;
    manager.add({
      name: 'http01-solver',
      needsLeaderElection: false,
      start: () =>
        new Promise((_, reject) => {
          fail = reject;
        }),
    });
    const done = manager.start(new AbortController().signal);
    await client.create(ConfigMaps, { metadata: { name: 'x', namespace: ns } });
    await expect.poll(() => reconciled).toBeGreaterThan(0);
    const [probePort] = manager.ports;

    fail(new Error('listen EADDRINUSE: address already in use 127.0.0.1:8089'));
    const err = await done.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RunnableFailedError);
    expect((err as RunnableFailedError).runnable).toBe('http01-solver');
    expect((err as Error).message).toBe(
      'http01-solver failed: listen EADDRINUSE: address already in use 127.0.0.1:8089',
    );
    // Stopped as on SIGTERM: no probes, and the Lease handed back.
    await expect(fetch(`http://127.0.0.1:${probePort}/healthz`)).rejects.toThrow();
    const lease = await client.get(Leases, { namespace: ns, name: 'fail-test' });
    expect(lease.spec?.holderIdentity).toBe('');
  });

  it('stops when a runnable fails while it waits for the leader lease', async () => {
    const ns = await cluster.createNamespace('fail-standby');
    // Held by another replica for long: this one stays a standby.
    await client.create(Leases, {
      metadata: { name: 'standby-test', namespace: ns },
      spec: {
        holderIdentity: 'the-leader',
        leaseDurationSeconds: 3600,
        renewTime: new Date().toISOString().replace('Z', '000Z'),
      },
    });
    const manager = new Manager({
      kubeConfig: cluster.kubeConfig,
      healthProbePort: false,
      metricsPort: false,
      leaderElection: { name: 'standby-test', namespace: ns, retryPeriodMs: 200 },
    });
    manager.add({
      name: 'webhook server',
      needsLeaderElection: false,
      start: async () => {
        throw new Error('no serving certificate');
      },
    });
    await expect(manager.start(new AbortController().signal)).rejects.toThrow(
      'webhook server failed: no serving certificate',
    );
    expect(manager.isLeader).toBe(false);
  });

  it('fails over when the leader is killed, and hands over at once on SIGTERM', async () => {
    const ns = await cluster.createNamespace('lease');
    const kubeconfig = await cluster.writeKubeconfig(cluster.kubeConfig, `kubeconfig-${ns}`);
    const start = (identity: string) => {
      const p = new ManagerProcess({
        KUBECONFIG: kubeconfig,
        NAMESPACE: ns,
        LEASE: 'election',
        IDENTITY: identity,
        RECONCILE_MS: '1500',
        LOG_LEVEL: 'debug',
      });
      procs.push(p);
      return p;
    };
    const a = start('a');
    await a.waitFor('became leader');
    const b = start('b');
    await b.waitFor('waiting to acquire the leader lease');
    await new Promise((r) => setTimeout(r, 1500));
    expect(b.logged('became leader')).toBeUndefined();

    // Crash: the Lease is not released; b takes over once it expires (3 s here).
    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    const bLeads = await b.waitFor('became leader');
    const failoverMs = bLeads.at - killedAt;
    console.log(`failover after SIGKILL: ${failoverMs} ms (lease 3000 ms, retry 500 ms)`);
    expect(failoverMs).toBeGreaterThan(2000);
    expect(failoverMs).toBeLessThan(6000);

    // Clean stop: b finishes its in-flight reconcile, releases the Lease, exits 0, and the
    // standby leads without waiting for expiry.
    const c = start('c');
    await c.waitFor('waiting to acquire the leader lease');
    await client.create(ConfigMaps, { metadata: { name: 'work', namespace: ns } });
    await b.waitFor('reconcile start');
    b.child.kill('SIGTERM');
    await b.exited();
    expect(b.exitCode).toBe(0);
    expect(b.logged('reconcile done')).toBeTruthy();
    expect(b.logged('released the leader lease')).toBeTruthy();
    const cLeads = await c.waitFor('became leader');
    const handoverMs = cLeads.at - b.logged('released the leader lease')!.at;
    console.log(`handover after SIGTERM: ${handoverMs} ms`);
    expect(handoverMs).toBeLessThan(1500);
    // The new leader reconciles what exists (level-based: nothing was handed over).
    await c.waitFor('reconcile done');
  });

  it("makes the holder's Pod the Lease's owner, so the Lease goes with the last replica", async () => {
    const ns = await cluster.createNamespace('owned');
    const pod = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', name, uid: `uid-${name}` });
    const elector = (name: string) =>
      new LeaderElector(cluster.kubeConfig, {
        name: 'owned',
        namespace: ns,
        identity: name,
        owner: pod(name),
        leaseDurationMs: 3000,
        renewDeadlineMs: 2000,
        retryPeriodMs: 200,
      });
    const a = elector('a');
    const b = elector('b');
    const owners = async () =>
      (await client.get(Leases, { namespace: ns, name: 'owned' })).metadata?.ownerReferences;
    expect(await a.acquire(AbortSignal.timeout(5000))).toBe(true);
    expect(await owners()).toEqual([pod('a')]);
    // Handed over: the new holder's Pod owns it.
    const stopA = new AbortController();
    const holding = a.hold(stopA.signal);
    stopA.abort();
    await holding;
    expect(await b.acquire(AbortSignal.timeout(5000))).toBe(true);
    expect(await owners()).toEqual([pod('b')]);
    await b.release();
  });
});
