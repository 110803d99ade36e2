import { fileURLToPath } from 'node:url';
import { chartSuite } from '@chousei/testenv/vitest';
import { CRDS } from '../src/api/crds.js';
import { parseConfig } from '../src/config.js';

chartSuite({
  deployDir: fileURLToPath(new URL('../deploy', import.meta.url)),
  release: 'cert-operator',
  crds: CRDS,
  parseArgs: parseConfig,
  variants: {
    'a Let’s Encrypt ClusterIssuer as default issuer': {
      defaultIssuer: { name: 'letsencrypt', kind: 'ClusterIssuer' },
      clusterIssuers: {
        letsencrypt: {
          acme: {
            server: 'https://acme-v02.api.letsencrypt.org/directory',
            email: 'ops@example.com',
            privateKeySecretRef: { name: 'letsencrypt-account' },
            solvers: [{ http01: { ingress: { ingressClassName: 'nginx' } } }],
          },
        },
      },
    },
    'no webhook, one replica': { 'webhook.enabled': false, replicas: 1, leaderElection: false },
    'HTTP-01 self-check through given nameservers': {
      'http01.selfCheckNameservers': ['10.96.0.53', '10.96.0.54:5353'],
    },
  },
});
