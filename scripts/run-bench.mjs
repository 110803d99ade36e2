// A package's `bench` script: runs its bench/NAME.ts, NAME as scripts/bench.mjs passes it
// (`turbo run bench -- NAME`), for packages with more than one benchmark.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const name = process.argv[2];
if (!name) {
  console.error('usage: run-bench.mjs NAME (runs bench/NAME.ts of this package)');
  process.exit(2);
}
await import(pathToFileURL(join(process.cwd(), 'bench', `${name}.ts`)).href);
