// Runtime benchmark: `pnpm bench runtime`. Against a real API server: list+watch of 10000
// ConfigMaps of about 1 KB (time to synced, heap held by the store, full and metadata-only),
// update-to-reconcile latency at 200 updates/s, and in-process queue throughput.
// Writes bench/results/runtime.json at the repository root.
import { percentile, pool, startControlPlane, writeBenchResult } from '@chousei/testenv';
import {
  Cache,
  Client,
  type ConfigMap,
  ConfigMaps,
  ControllerBuilder,
  Informer,
} from '../dist/index.js';
import { queueOpsPerSecond } from './lib/queue-throughput.ts';

const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 10_000);
const UPDATES_PER_SECOND = 200;
const UPDATE_SECONDS = 10;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function heapMb(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

const cp = await startControlPlane({ apiServerFlags: ['--max-requests-inflight=1000'] });
try {
  const client = new Client(cp.kubeConfig);
  const ns = await cp.createNamespace('bench');
  // Distinct content per object: V8 shares equal strings parsed from JSON, so a payload
  // repeated verbatim would hide the memory real data costs.
  const payload = (i: number) =>
    `${i}:`.padEnd(900, String.fromCharCode(97 + (i % 26)) + i.toString(36));
  console.log(`creating ${OBJECTS} ConfigMaps...`);
  const t0 = performance.now();
  await pool(
    Array.from({ length: OBJECTS }, (_, i) => i),
    32,
    (i) =>
      client.create(ConfigMaps, {
        metadata: {
          name: `cm-${i}`,
          namespace: ns,
          labels: { app: 'bench', shard: String(i % 10) },
        },
        data: { payload: payload(i), index: String(i) },
      }),
  );
  console.log(`created in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const measureStore = async (metadataOnly: boolean) => {
    const before = heapMb();
    const stop = new AbortController();
    const informer = new Informer<ConfigMap>(client.transport, ConfigMaps, {
      namespace: ns,
      metadataOnly,
    });
    const start = performance.now();
    const running = informer.start(stop.signal);
    await informer.waitForSync();
    const seconds = (performance.now() - start) / 1000;
    const heap = heapMb() - before;
    if (informer.store.size !== OBJECTS)
      throw new Error(`store has ${informer.store.size} objects`);
    stop.abort();
    await running;
    return { seconds, heap };
  };
  // One warm-up round first: the first list also pays for one-time allocations (code,
  // TLS sessions, socket buffers) that the store does not hold.
  await measureStore(false);
  const meta = await measureStore(true);
  const full = await measureStore(false);
  console.log(
    `full: synced in ${full.seconds.toFixed(2)} s, ${full.heap.toFixed(1)} MB; metadata-only ${meta.heap.toFixed(1)} MB`,
  );

  // Update-to-reconcile latency: each update carries its send time; the reconcile reads the
  // object from the cache and measures the gap when it starts.
  const latencies: number[] = [];
  const writeLatencies: number[] = [];
  const cache = new Cache(client.transport);
  const controller = new ControllerBuilder('bench')
    .for(ConfigMaps, { namespace: ns })
    .withOptions({ maxConcurrentReconciles: 4 })
    .complete(async (req) => {
      const cm = await cache.get(ConfigMaps, req, { namespace: ns });
      const sent = Number(cm.data?.sentAt);
      if (sent) latencies.push(performance.timeOrigin + performance.now() - sent);
    });
  const stop = new AbortController();
  void controller.start(cache, stop.signal);
  await cache.waitForSync();
  await new Promise((r) => setTimeout(r, 2000)); // let the initial reconciles of every key drain
  latencies.length = 0;
  const total = UPDATES_PER_SECOND * UPDATE_SECONDS;
  const interval = 1000 / UPDATES_PER_SECOND;
  const started = performance.now();
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const sentAt = performance.timeOrigin + performance.now();
    writes.push(
      client
        .patch(
          ConfigMaps,
          { namespace: ns, name: `cm-${i % OBJECTS}` },
          {
            type: 'merge',
            patch: { data: { sentAt: String(sentAt) } },
          },
        )
        .then(() => writeLatencies.push(performance.timeOrigin + performance.now() - sentAt)),
    );
  }
  await Promise.all(writes);
  const deadline = Date.now() + 10_000;
  while (latencies.length < total && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  stop.abort();
  const sorted = [...latencies].sort((a, b) => a - b);
  const writeSorted = [...writeLatencies].sort((a, b) => a - b);
  console.log(
    `write round trip: p50 ${percentile(writeSorted, 50).toFixed(1)} ms, p99 ${percentile(writeSorted, 99).toFixed(1)} ms`,
  );
  console.log(
    `latency over ${sorted.length}/${total} updates: p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms`,
  );

  const queueOps = await queueOpsPerSecond();
  console.log(`queue: ${Math.round(queueOps)} ops/s`);

  const result = {
    objects: OBJECTS,
    list_to_synced_seconds: Number(full.seconds.toFixed(3)),
    heap_mb_full: Number(full.heap.toFixed(2)),
    heap_mb_metadata_only: Number(meta.heap.toFixed(2)),
    reconcile_latency_p50_ms: Number(percentile(sorted, 50).toFixed(2)),
    reconcile_latency_p99_ms: Number(percentile(sorted, 99).toFixed(2)),
    reconcile_updates_measured: sorted.length,
    queue_ops_per_second: Math.round(queueOps),
  };
  console.log(await writeBenchResult('runtime', result));
} finally {
  await cp.stop();
}
