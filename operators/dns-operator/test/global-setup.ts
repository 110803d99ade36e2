// The whole suite runs the operator under the RBAC its Helm chart grants (see testenv chartSetup).
import { fileURLToPath } from 'node:url';
import { chartSetup } from '@chousei/testenv/global-setup';

export const setup = chartSetup(fileURLToPath(new URL('../deploy/chart', import.meta.url)), {
  release: 'dns-operator',
  namespace: 'dns-operator',
  rarelyUsed: {
    'get dnsendpoints.dns.chousei.dev':
      'a finalizer write that lost a race re-reads the object (the suites race Ingresses and Services)',
  },
});
