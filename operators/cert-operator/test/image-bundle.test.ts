import { fileURLToPath } from 'node:url';
import { imageBundleSuite } from '@chousei/testenv/vitest';

imageBundleSuite({
  operatorDir: fileURLToPath(new URL('..', import.meta.url)),
  command: 'chousei-cert-operator',
  flags: [
    '--default-issuer-name',
    '--http01-solver-port',
    '--webhook-cert-dir',
    '--kubeconfig',
    '--leader-elect',
  ],
  workspaceDeps: ['@chousei/runtime', '@chousei/dns'],
  // Measured 94 MB of files (du: 123M), 62 MB of it @kubernetes/client-node.
  maxMb: 120,
});
