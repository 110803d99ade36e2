// `pnpm bench [NAME...]`: runs every benchmark, or the named ones. A benchmark is a script
// `bench/NAME.ts` in a workspace package whose package.json has a `bench` script; results
// land in bench/results/NAME.json at the repository root.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const packages = ['packages', 'operators']
  .flatMap((group) =>
    existsSync(join(root, group))
      ? readdirSync(join(root, group)).map((d) => join(root, group, d))
      : [],
  )
  .filter((dir) => existsSync(join(dir, 'package.json')));

const benchmarks = packages.flatMap((dir) => {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (!pkg.scripts?.bench || !existsSync(join(dir, 'bench'))) return [];
  return readdirSync(join(dir, 'bench'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({ name: f.slice(0, -3), pkg: pkg.name }));
});

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !benchmarks.some((b) => b.name === w));
if (unknown.length) {
  const known = benchmarks.map((b) => b.name).join(', ') || 'none yet';
  console.error(`unknown benchmark: ${unknown.join(', ')} (known: ${known})`);
  process.exit(2);
}
const selected = wanted.length ? benchmarks.filter((b) => wanted.includes(b.name)) : benchmarks;
if (!selected.length) {
  console.log('no benchmarks yet');
  process.exit(0);
}
for (const { name, pkg } of selected) {
  console.log(`\n== benchmark ${name} (${pkg})`);
  const filter = `--filter=${pkg}`;
  const res = spawnSync('turbo', ['run', 'bench', filter, '--', name], {
    cwd: root,
    stdio: 'inherit',
  });
  if (res.status !== 0) process.exit(res.status ?? 1);
}
