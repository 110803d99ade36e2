import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The process-wide metrics registry served on /metrics. Like controller-runtime's, it is
 * global: every controller, queue and informer in the process reports into it, told
 * apart by labels.
 */
export const metricsRegistry = new Registry();

type Labels<L extends string> = readonly L[];

let processMetrics = false;
/**
 * The `process_*` series every Prometheus client exports (resident memory, CPU, open file
 * descriptors, start time; a Go controller adds `go_*`) and Node's own `nodejs_*` (heap by
 * space, event loop lag, GC pauses). Started by the first /metrics server, not on import:
 * they hook the GC and the event loop.
 */
export function collectProcessMetrics(): void {
  if (processMetrics) return;
  processMetrics = true;
  collectDefaultMetrics({ register: metricsRegistry });
}

/** A counter registered once per process; later calls with the same name return it. */
export function counter<L extends string>(name: string, help: string, labelNames: Labels<L>) {
  return (metricsRegistry.getSingleMetric(name) ??
    new Counter({ name, help, labelNames, registers: [metricsRegistry] })) as Counter<L>;
}

/** A gauge registered once per process. */
export function gauge<L extends string>(name: string, help: string, labelNames: Labels<L>) {
  return (metricsRegistry.getSingleMetric(name) ??
    new Gauge({ name, help, labelNames, registers: [metricsRegistry] })) as Gauge<L>;
}

/** One series of a CollectedGauge: its labels and value. */
export interface GaugeSample<L extends string> {
  labels: Record<L, string>;
  value: number;
}

/** Reads the series of a CollectedGauge from state the caller keeps (an informer's store). */
export type GaugeSource<L extends string> = () => Iterable<GaugeSample<L>>;

/**
 * A gauge whose series are read from their sources at each scrape, as a custom collector
 * of client_golang does: nothing is held per series between scrapes, and no series outlives
 * the object it tells of. For series one per cached object, which would cost as much again
 * as the objects and need removing by hand when one goes.
 */
export class CollectedGauge<L extends string> extends Gauge<L> {
  private readonly sources = new Set<GaugeSource<L>>();

  /** Adds a source read at every scrape; the function returned removes it. */
  collectFrom(source: GaugeSource<L>): () => void {
    this.sources.add(source);
    return () => this.sources.delete(source);
  }

  override async get() {
    const metric = await super.get();
    const values: typeof metric.values = [];
    for (const source of this.sources) for (const sample of source()) values.push(sample);
    return { ...metric, values };
  }
}

/** A CollectedGauge registered once per process. */
export function collectedGauge<L extends string>(
  name: string,
  help: string,
  labelNames: Labels<L>,
): CollectedGauge<L> {
  const known = metricsRegistry.getSingleMetric(name);
  if (known === undefined)
    return new CollectedGauge({ name, help, labelNames, registers: [metricsRegistry] });
  if (known instanceof CollectedGauge) return known as CollectedGauge<L>;
  throw new Error(`metric ${name} is registered already, and is not a CollectedGauge`);
}

/** A histogram registered once per process. */
export function histogram<L extends string>(
  name: string,
  help: string,
  labelNames: Labels<L>,
  buckets: number[],
) {
  return (metricsRegistry.getSingleMetric(name) ??
    new Histogram({
      name,
      help,
      labelNames,
      buckets,
      registers: [metricsRegistry],
    })) as Histogram<L>;
}

/** Exponential buckets: `count` buckets from `start`, each `factor` times the previous. */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start * factor ** i);
}
