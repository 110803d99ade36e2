// Each operator's Helm chart carries its operator's version: the chart `version` and its
// `appVersion` (the default image tag) are the package version, so a release of the
// operator is a release of its chart. `scripts/version-packages.mjs` keeps them in step; a release
// refuses a chart that is not.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const VERSION = /^version: *"?([^"\s]+)"? *$/m;
const APP_VERSION = /^appVersion: *"?([^"\s]+)"? *$/m;

/** The operators with a chart: package name and version, and the chart's Chart.yaml. */
export function operatorCharts(root) {
  const dir = join(root, 'operators');
  return readdirSync(dir)
    .map((name) => ({
      manifest: join(dir, name, 'package.json'),
      chartFile: join(dir, name, 'deploy', 'chart', 'Chart.yaml'),
    }))
    .filter((c) => existsSync(c.manifest) && existsSync(c.chartFile))
    .map((c) => {
      const pkg = JSON.parse(readFileSync(c.manifest, 'utf8'));
      return { ...c, name: pkg.name, version: pkg.version, private: pkg.private === true };
    });
}

/** `version` and `appVersion` of a Chart.yaml. */
export function chartVersions(chartFile) {
  const text = readFileSync(chartFile, 'utf8');
  return { version: VERSION.exec(text)?.[1], appVersion: APP_VERSION.exec(text)?.[1] };
}

/** Sets both to `version`, leaving the rest of the file as it is. */
export function setChartVersion(chartFile, version) {
  const text = readFileSync(chartFile, 'utf8');
  if (!VERSION.test(text) || !APP_VERSION.test(text)) {
    throw new Error(`${chartFile}: no version or appVersion line to set`);
  }
  writeFileSync(
    chartFile,
    text.replace(VERSION, `version: ${version}`).replace(APP_VERSION, `appVersion: "${version}"`),
  );
}
