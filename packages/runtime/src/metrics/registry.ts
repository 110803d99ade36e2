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
