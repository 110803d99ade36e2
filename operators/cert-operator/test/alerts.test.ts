// The chart's alert rules, checked with promtool (testenv alertSuite): test/alerts.promtool.yaml
// says where each fires and where it stays silent.
import { fileURLToPath } from 'node:url';
import { alertSuite } from '@chousei/testenv/vitest';

alertSuite({
  chartDir: fileURLToPath(new URL('../deploy/chart', import.meta.url)),
  release: 'cert-operator',
  testFile: fileURLToPath(new URL('alerts.promtool.yaml', import.meta.url)),
  runbooks: fileURLToPath(new URL('../../../docs/troubleshooting.md', import.meta.url)),
});
