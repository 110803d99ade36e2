#!/usr/bin/env node
// `./pnpmw version-packages`: applies the pending changesets (`changeset version`: package versions
// and CHANGELOG.md files), gives each released operator's chart its new version
// (scripts/charts.mjs), and writes again what derives from the charts (install.yaml).
// Review and commit the result, then `./pnpmw release`.
import { spawnSync } from 'node:child_process';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chartVersions, operatorCharts, setChartVersion } from './charts.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

function run(cmd, args) {
  const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (res.status !== 0) {
    console.error(`version: \`${[cmd, ...args].join(' ')}\` exited with ${res.status}`);
    process.exit(1);
  }
}

run(process.execPath, [fileURLToPath(import.meta.resolve('@changesets/cli/bin.js')), 'version']);
let changed = false;
for (const chart of operatorCharts(root)) {
  // Private operators are never versioned; 0.0.0 is the never-released version.
  if (chart.private || chart.version === '0.0.0') continue;
  const before = chartVersions(chart.chartFile);
  if (before.version === chart.version && before.appVersion === chart.version) continue;
  setChartVersion(chart.chartFile, chart.version);
  changed = true;
  console.log(`${relative(root, chart.chartFile)}: ${before.version} -> ${chart.version}`);
}
if (changed) {
  run('pnpm', ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only']);
  run(process.execPath, [fileURLToPath(new URL('generate-deploy.mjs', import.meta.url))]);
}
