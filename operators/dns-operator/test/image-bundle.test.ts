import { fileURLToPath } from 'node:url';
import { imageBundleSuite } from '@chousei/testenv/vitest';

imageBundleSuite({
  operatorDir: fileURLToPath(new URL('..', import.meta.url)),
  command: 'chousei-dns-operator',
  flags: ['--provider', '--source', '--rfc2136-host', '--kubeconfig', '--leader-elect'],
  workspaceDeps: ['@chousei/runtime', '@chousei/dns'],
  // Measured 87 MB of files (du: 113M), 62 MB of it @kubernetes/client-node.
  maxMb: 110,
});
