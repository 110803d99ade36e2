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
    'one replica without leader election': { replicas: 1, leaderElection: false },
  },
});
