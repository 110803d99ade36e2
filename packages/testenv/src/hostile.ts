// Property tests of parsers on hostile input: every input parses or throws the parser's typed
// error, each within a time bound. Shared by the suites of every package that parses input
// from users, Secrets or the network.
import { performance } from 'node:perf_hooks';
import * as fc from 'fast-check';

/** What one parser's run tried, for docs/benchmarks.md. */
export interface ParserFigures {
  parser: string;
  inputs: number;
  /** The slowest input's time, in ms (the least of up to three runs, see checkParser). */
  slowestMs: number;
  /** Size of that input, as `size` measures it. */
  slowestSize: number;
  /** The largest input tried. */
  largestSize: number;
}

export interface ParserCheck<T> {
  /** The parser's name in messages and figures, e.g. `splitPem`. */
  parser: string;
  inputs: fc.Arbitrary<T>;
  run: (input: T) => unknown;
  /** Whether a thrown error is the parser's own (a WireError, a PkiError...). */
  typed: (err: unknown) => boolean;
  /** The input's size (bytes, characters), for the figures. */
  size: (input: T) => number;
  /** Per input. Default 50 ms. */
  boundMs?: number;
  /** Default 200, or HOSTILE_RUNS from the environment (a longer soak than CI's). */
  numRuns?: number;
}

/**
 * What the bounds are measured against: a fixed linear workload (parsing about 0.9 MB of JSON
 * and matching a regex over it) took this long, at best, on the machine the bounds were set
 * on (2 vCPU, Node 24) while other suites ran.
 */
const REFERENCE_MS = 8;
const referenceText = JSON.stringify(
  Array.from({ length: 25_000 }, (_, i) => ({ n: i, s: `v${i}.example.test` })),
);

/**
 * How much slower this machine is right now than the one the bounds were set on: the
 * reference workload timed five times, the least taken. Never below 1. Asked only when an
 * input is over its bound, so a slower or busier machine (a CI runner) is not failed for
 * linear work, while a parser gone super-linear is still far over any such factor.
 */
export function machineSlowdown(): number {
  let best = Number.POSITIVE_INFINITY;
  for (let run = 0; run < 5; run++) {
    const start = performance.now();
    JSON.parse(referenceText);
    [...referenceText.matchAll(/"s":"([^"]*)"/g)].length;
    best = Math.min(best, performance.now() - start);
  }
  return Math.max(1, best / REFERENCE_MS);
}

/**
 * Throws unless `ms` is within `boundMs`, scaled by machineSlowdown() (asked only when over):
 * the one time check of hostile-input tests.
 */
export function assertWithin(ms: number, boundMs: number, what: string): void {
  if (ms <= boundMs) return;
  const slowdown = machineSlowdown();
  if (ms <= boundMs * slowdown) return;
  throw new Error(
    `${what} took ${ms.toFixed(1)} ms (over ${boundMs} ms x ${slowdown.toFixed(1)}, this machine's slowdown against the reference)`,
  );
}

/** Every figure measured in this process, in order: suites print them after their run. */
export const parserFigures: ParserFigures[] = [];

/**
 * Runs `run` on each input; fails (with fast-check's shrunk counterexample) when it throws an
 * error `typed` refuses, or takes over the bound. An input over half the bound is timed twice
 * more and its least time counts: a garbage collection (the inputs are megabytes) or a busy
 * CPU (the suites share the machine) does not repeat, a slow parser does. The bound is this
 * machine's: scaled by machineSlowdown() on a machine slower than the one it was set on.
 */
export function checkParser<T>(check: ParserCheck<T>): ParserFigures {
  const bound = check.boundMs ?? 50;
  const figures: ParserFigures = {
    parser: check.parser,
    inputs: 0,
    slowestMs: 0,
    slowestSize: 0,
    largestSize: 0,
  };
  const timed = (input: T): { ms: number; err?: unknown } => {
    const start = performance.now();
    try {
      check.run(input);
      return { ms: performance.now() - start };
    } catch (err) {
      return { ms: performance.now() - start, err };
    }
  };
  const run = fc.check(
    fc.property(check.inputs, (input) => {
      let { ms, err } = timed(input);
      for (let again = 0; again < 2 && ms > bound / 2; again++) ms = Math.min(ms, timed(input).ms);
      const size = check.size(input);
      figures.inputs++;
      figures.largestSize = Math.max(figures.largestSize, size);
      if (ms > figures.slowestMs) Object.assign(figures, { slowestMs: ms, slowestSize: size });
      if (err !== undefined && !check.typed(err)) {
        const e = err as Error;
        throw new Error(`${check.parser} threw an untyped ${e?.name}: ${e?.message}`, {
          cause: err,
        });
      }
      assertWithin(ms, bound, `${check.parser} on ${size}`);
    }),
    { numRuns: check.numRuns ?? Number(process.env.HOSTILE_RUNS ?? 200) },
  );
  // fast-check's own report prints the whole counterexample: megabytes here.
  if (run.failed) {
    const [input] = (run.counterexample ?? []) as [T];
    throw new Error(
      `${(run.errorInstance as Error)?.message ?? 'failed'}; input (seed ${run.seed}, path ${run.counterexamplePath}): ${preview(input)}`,
      { cause: run.errorInstance },
    );
  }
  parserFigures.push(figures);
  return figures;
}

/** The start of an input, for a failure message. */
function preview(input: unknown): string {
  const text = Buffer.isBuffer(input)
    ? `<${input.length} bytes> ${input.subarray(0, 64).toString('hex')}`
    : (JSON.stringify(input) ?? String(input));
  return text.length > 300 ? `${text.slice(0, 300)}... (${text.length} characters)` : text;
}

/** The figures as a Markdown table, as docs/benchmarks.md has them. */
export function figuresTable(figures: readonly ParserFigures[] = parserFigures): string {
  const rows = figures.map(
    (f) =>
      `| ${f.parser} | ${f.inputs} | ${f.largestSize} | ${f.slowestMs.toFixed(1)} (${f.slowestSize}) |`,
  );
  return [
    '| parser | inputs | largest input | slowest input, ms (its size) |',
    '| --- | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
}

/** One MiB. */
export const MiB = 1024 * 1024;

/**
 * Text made of `pieces` repeated to about `bytes`, in random order: adversarial repetition
 * (runs of BEGIN lines, separators, nested tags) at any size up to `maxBytes`.
 */
export function repeated(pieces: string[], maxBytes = MiB): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.array(fc.constantFrom(...pieces), { minLength: 1, maxLength: 8 }),
      fc.integer({ min: 1, max: maxBytes }),
    )
    .map(([unit, bytes]) => {
      const block = unit.join('');
      return block.repeat(Math.ceil(bytes / block.length)).slice(0, bytes);
    });
}

/** Bytes made of `pieces` repeated to about `bytes` (as `repeated`, for binary formats). */
export function repeatedBytes(pieces: Uint8Array[], maxBytes = MiB): fc.Arbitrary<Buffer> {
  // latin1 maps each byte to one character and back.
  const text = pieces.map((p) => Buffer.from(p).toString('latin1'));
  return repeated(text, maxBytes).map((s) => Buffer.from(s, 'latin1'));
}

/** `base` with a few random bytes changed, cut, or inserted: a valid structure made hostile. */
export function mutated(base: Buffer): fc.Arbitrary<Buffer> {
  const edit = fc.oneof(
    fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }), kind: fc.constant('set') }),
    fc.record({ at: fc.nat(), byte: fc.constant(0), kind: fc.constant('cut') }),
    fc.record({
      at: fc.nat(),
      byte: fc.integer({ min: 0, max: 255 }),
      kind: fc.constant('insert'),
    }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 6 }).map((edits) => {
    let out = Buffer.from(base);
    for (const { at, byte, kind } of edits) {
      const i = at % Math.max(1, out.length);
      if (kind === 'set') out[i] = byte;
      else if (kind === 'cut') out = out.subarray(0, i);
      else out = Buffer.concat([out.subarray(0, i), Buffer.from([byte]), out.subarray(i)]);
    }
    return out;
  });
}
