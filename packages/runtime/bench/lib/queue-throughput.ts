import { WorkQueue } from '../../dist/index.js';

// Distinct keys per round, so deduplication does not collapse the adds being measured.
const KEYS = Array.from({ length: 1024 }, (_, i) => `default/object-${i}`);
const WORKERS = 4;

let runs = 0;

/**
 * Add+get+done cycles per second through one WorkQueue with metrics on, as a controller
 * runs it: a round adds a batch of distinct keys, and several concurrent workers take
 * them until the queue is empty. Warmed up first so the figure is for optimised code.
 */
export async function queueOpsPerSecond(opts: { cycles?: number } = {}): Promise<number> {
  const cycles = opts.cycles ?? 1_000_000;
  const queue = new WorkQueue<string>({ name: `bench-queue-throughput-${++runs}` });
  try {
    await run(queue, Math.min(cycles, 200_000));
    const start = performance.now();
    const done = await run(queue, cycles);
    return done / ((performance.now() - start) / 1000);
  } finally {
    queue.shutDown();
  }
}

/** Runs at least `cycles` cycles in whole rounds; returns how many it ran. */
async function run(queue: WorkQueue<string>, cycles: number): Promise<number> {
  let done = 0;
  const worker = async (): Promise<void> => {
    while (queue.len() > 0) {
      const item = await queue.get();
      if (item === undefined) return;
      queue.done(item);
      done++;
    }
  };
  while (done < cycles) {
    for (const key of KEYS) queue.add(key);
    await Promise.all(Array.from({ length: WORKERS }, worker));
  }
  return done;
}
