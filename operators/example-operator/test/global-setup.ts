// The whole suite runs the operator under the RBAC its Helm chart grants: a request the
// chart does not allow, or a rule no test exercised, fails the run (testenv chartSetup).
import { fileURLToPath } from 'node:url';
import { chartSetup } from '@chousei/testenv/global-setup';

export const setup = chartSetup(fileURLToPath(new URL('../deploy/chart', import.meta.url)), {
  release: 'example-operator',
  namespace: 'example-operator',
  rarelyUsed: {
    'get secretmirrors.example.chousei.dev':
      'a finalizer write that lost a race re-reads the SecretMirror',
  },
});
