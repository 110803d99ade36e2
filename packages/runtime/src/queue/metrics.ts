import type { Counter, Gauge, Histogram } from 'prom-client';
import { counter, exponentialBuckets, gauge, histogram } from '../metrics/registry.js';

/**
 * What a work queue reports, called from its hot path. The queue calls these only on
 * state changes it has already deduplicated: `added` once per item per wait, `taken`
 * once per hand-out, `done` once per hand-out.
 */
export interface QueueMetrics<T> {
  /** `item` became waiting (possibly behind its own in-flight processing). */
  added(item: T): void;
  /** `item` was handed to a worker. */
  taken(item: T): void;
  /** The worker finished `item`. */
  done(item: T): void;
  /** A rate-limited (retry) add. */
  retried(): void;
  /** The queue dropped everything waiting (shutdown). */
  droppedWaiting(): void;
  /** The queue is gone: stop reporting its gauges. */
  close(): void;
}

/** For queues created with `metrics: false`. */
export const noQueueMetrics: QueueMetrics<unknown> = {
  added() {},
  taken() {},
  done() {},
  retried() {},
  droppedWaiting() {},
  close() {},
};

const LABELS = ['name'] as const;
type Label = (typeof LABELS)[number];

interface Instruments {
  depth: Gauge<Label>;
  adds: Counter<Label>;
  queueDuration: Histogram<Label>;
  workDuration: Histogram<Label>;
  retries: Counter<Label>;
  unfinished: Gauge<Label>;
  longest: Gauge<Label>;
}

/** What the scrape-time collectors read from each live queue. */
interface GaugeSource {
  readonly name: string;
  depth(): number;
  /** Seconds of in-flight work: the sum and the longest, as of `now` (ms). */
  inFlight(now: number): { total: number; longest: number };
}

// Queues whose gauges are reported, and every name ever seen: a queue that is gone
// reports 0 rather than a frozen last value.
const live = new Set<GaugeSource>();
const knownNames = new Set<string>();
// Gauges we have hooked, so a registry cleared and refilled (tests) is hooked again.
const hooked = new WeakSet<Gauge<Label>>();

/**
 * The metric names and semantics of client-go's workqueue metrics, so dashboards and
 * alerts written for controller-runtime work unchanged.
 */
function instruments(): Instruments {
  const buckets = exponentialBuckets(1e-8, 10, 12);
  const result: Instruments = {
    depth: gauge('workqueue_depth', 'Current depth of the workqueue.', LABELS),
    adds: counter('workqueue_adds_total', 'Total number of adds handled by the workqueue.', LABELS),
    queueDuration: histogram(
      'workqueue_queue_duration_seconds',
      'How long in seconds an item stays in the workqueue before being requested.',
      LABELS,
      buckets,
    ),
    workDuration: histogram(
      'workqueue_work_duration_seconds',
      'How long in seconds processing an item from the workqueue takes.',
      LABELS,
      buckets,
    ),
    retries: counter(
      'workqueue_retries_total',
      'Total number of retries handled by the workqueue.',
      LABELS,
    ),
    unfinished: gauge(
      'workqueue_unfinished_work_seconds',
      'Seconds of work in progress not yet observed by work_duration. Large values ' +
        'indicate stuck workers; the rate of increase is the number of stuck workers.',
      LABELS,
    ),
    longest: gauge(
      'workqueue_longest_running_processor_seconds',
      'How many seconds the longest running worker of the workqueue has been running.',
      LABELS,
    ),
  };
  // These gauges are computed when scraped instead of on every add/get/done: the queue
  // already knows its length and start times, and the hot path stays free of them.
  hook(result.depth, (s) => s.depth(), sum);
  hook(result.unfinished, (s, now) => s.inFlight(now).total, sum);
  hook(result.longest, (s, now) => s.inFlight(now).longest, Math.max);
  return result;
}

function sum(a: number, b: number): number {
  return a + b;
}

function hook(
  metric: Gauge<Label>,
  read: (source: GaugeSource, now: number) => number,
  combine: (a: number, b: number) => number,
): void {
  if (hooked.has(metric)) return;
  hooked.add(metric);
  const collect = (): void => {
    const now = performance.now();
    const values = new Map<string, number>();
    for (const name of knownNames) values.set(name, 0);
    // Queues sharing a name (a controller restarted in-process) add up, or take the max.
    for (const source of live) {
      values.set(source.name, combine(values.get(source.name) ?? 0, read(source, now)));
    }
    for (const [name, value] of values) metric.set({ name }, value);
  };
  // prom-client calls a metric's `collect` on every scrape; the registry helpers take no
  // collect option, so it is attached to the instance they return.
  Object.assign(metric, { collect });
}

class QueueMetricsRecorder<T> implements QueueMetrics<T>, GaugeSource {
  readonly name: string;
  readonly #depth: () => number;
  // Children are resolved once: labels() per call would rebuild the label object.
  readonly #adds: Counter.Internal;
  readonly #retries: Counter.Internal;
  readonly #queueDuration: Histogram.Internal<Label>;
  readonly #workDuration: Histogram.Internal<Label>;
  readonly #addedAt = new Map<T, number>();
  readonly #startedAt = new Map<T, number>();

  constructor(name: string, depth: () => number) {
    const m = instruments();
    this.name = name;
    this.#depth = depth;
    this.#adds = m.adds.labels(name);
    this.#retries = m.retries.labels(name);
    this.#queueDuration = m.queueDuration.labels(name);
    this.#workDuration = m.workDuration.labels(name);
    // Every series from the start, as client-go's: a rate() sees the first retry.
    this.#adds.inc(0);
    this.#retries.inc(0);
    m.queueDuration.zero({ name });
    m.workDuration.zero({ name });
    knownNames.add(name);
    live.add(this);
  }

  added(item: T): void {
    this.#adds.inc();
    this.#addedAt.set(item, performance.now());
  }

  taken(item: T): void {
    const now = performance.now();
    const addedAt = this.#addedAt.get(item);
    if (addedAt !== undefined) {
      this.#addedAt.delete(item);
      this.#queueDuration.observe((now - addedAt) / 1000);
    }
    this.#startedAt.set(item, now);
  }

  done(item: T): void {
    const startedAt = this.#startedAt.get(item);
    if (startedAt === undefined) return;
    this.#startedAt.delete(item);
    this.#workDuration.observe((performance.now() - startedAt) / 1000);
  }

  retried(): void {
    this.#retries.inc();
  }

  droppedWaiting(): void {
    this.#addedAt.clear();
  }

  close(): void {
    live.delete(this);
  }

  depth(): number {
    return this.#depth();
  }

  inFlight(now: number): { total: number; longest: number } {
    let total = 0;
    let longest = 0;
    for (const startedAt of this.#startedAt.values()) {
      const seconds = (now - startedAt) / 1000;
      total += seconds;
      if (seconds > longest) longest = seconds;
    }
    return { total, longest };
  }
}

/**
 * Metrics for the queue `name`, reading its current length through `depth`. The queue
 * must `close()` them when it is shut down and idle, or its gauges are reported forever.
 */
export function queueMetrics<T>(name: string, depth: () => number): QueueMetrics<T> {
  return new QueueMetricsRecorder<T>(name, depth);
}
