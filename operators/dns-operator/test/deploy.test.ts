import { fileURLToPath } from 'node:url';
import { chartSuite } from '@chousei/testenv/vitest';
import { CRDS } from '../src/api/dnsendpoint.js';
import { parseConfig } from '../src/config.js';

chartSuite({
  deployDir: fileURLToPath(new URL('../deploy', import.meta.url)),
  release: 'dns-operator',
  crds: CRDS,
  parseArgs: parseConfig,
  variants: {
    'RFC2136 with a TSIG key from a Secret': {
      provider: {
        name: 'rfc2136',
        rfc2136: {
          host: 'ns1.example.org',
          zones: ['example.org'],
          tsigKeyName: 'chousei',
          tsigSecret: { name: 'tsig', key: 'secret' },
        },
      },
    },
    'one namespace, one replica': { watchNamespace: 'apps', replicas: 1, leaderElection: false },
    'Route53 with static credentials': {
      'provider.route53.credentialsSecret': 'aws',
      domainFilters: ['example.com'],
    },
  },
});
