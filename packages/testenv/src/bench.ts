import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';

/** The value at percentile `p` (0-100) of an ascending list. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Runs `fn` over `items` with at most `concurrency` at once. */
export async function pool<T>(
  items: T[],
  concurrency: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** What a benchmark ran on, recorded beside its figures. */
export function machine() {
  return {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memory_gb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}

/** Writes `bench/results/NAME.json` at the repository root, with the machine and date. */
export async function writeBenchResult(
  name: string,
  figures: Record<string, unknown>,
): Promise<string> {
  const dir = new URL('../../../bench/results/', import.meta.url);
  await mkdir(dir, { recursive: true });
  const result = { ...figures, machine: machine(), date: new Date().toISOString() };
  const file = new URL(`${name}.json`, dir);
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  return JSON.stringify(result, null, 2);
}
