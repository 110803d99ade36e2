// The whole suite runs the operator under the RBAC its Helm chart grants (see testenv chartSetup).
import { fileURLToPath } from 'node:url';
import { chartSetup } from '@chousei/testenv/global-setup';

export const setup = chartSetup(fileURLToPath(new URL('../deploy/chart', import.meta.url)), {
  release: 'dns-operator',
  namespace: 'dns-operator',
  // Every source, so every grant is exercised: the Gateway API ones too.
  set: {
    sources: [
      'ingress',
      'service',
      'dnsendpoint',
      'gateway-httproute',
      'gateway-grpcroute',
      'gateway-tlsroute',
      'gateway-tcproute',
      'gateway-udproute',
    ],
    gatewayListenerSets: true,
  },
  rarelyUsed: {
    'get dnsendpoints.dns.chousei.dev':
      'a finalizer write that lost a race re-reads the object (the suites race Ingresses and Services)',
    ...Object.fromEntries(
      ['httproutes', 'grpcroutes', 'tlsroutes', 'tcproutes', 'udproutes'].map((r) => [
        `get ${r}.gateway.networking.k8s.io`,
        'a finalizer write that lost a race re-reads the object',
      ]),
    ),
  },
});
