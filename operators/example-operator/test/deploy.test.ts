// The chart: generated files up to date, helm lint, secure defaults, flags the operator
// accepts, and a server-side dry run of what it renders (testenv chartSuite).
import { fileURLToPath } from 'node:url';
import { chartSuite } from '@chousei/testenv/vitest';
import { CRDS } from '../src/api/secretmirror.js';
import { parseConfig } from '../src/config.js';

chartSuite({
  deployDir: fileURLToPath(new URL('../deploy', import.meta.url)),
  release: 'example-operator',
  crds: CRDS,
  parseArgs: parseConfig,
  variants: {
    // As for kube-prometheus-stack, rendered where helm cannot see the CRDs (GitOps).
    'a ServiceMonitor into the monitoring namespace, without the CRDs (forced)': {
      serviceMonitor: {
        enabled: true,
        forceEnable: true,
        namespace: 'monitoring',
        additionalLabels: { release: 'kube-prometheus-stack' },
        annotations: { team: 'platform' },
        interval: '15s',
        scrapeTimeout: '5s',
        relabelings: [{ sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'node' }],
        metricRelabelings: [{ sourceLabels: ['__name__'], regex: 'nodejs_gc_.*', action: 'drop' }],
      },
    },
    'one replica without leader election': { replicas: 1, leaderElection: false },
  },
});
