// The whole suite runs the operator under the RBAC its Helm chart grants (see testenv chartSetup).
import { fileURLToPath } from 'node:url';
import { chartSetup } from '@chousei/testenv/global-setup';

export const setup = chartSetup(fileURLToPath(new URL('../deploy/chart', import.meta.url)), {
  release: 'cert-operator',
  namespace: 'cert-operator',
  // Gateway API on, so the audit sees its grants used too.
  set: { gatewayAPI: { enabled: true, listenerSets: true } },
  rarelyUsed: {
    'get certificates.cert.chousei.dev':
      'a finalizer write that lost a race re-reads the Certificate (seen when the shim and the controller write at once)',
  },
});
