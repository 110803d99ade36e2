import { fileURLToPath } from 'node:url';
import { freePort } from '@chousei/testenv';
import { imageBundleSuite } from '@chousei/testenv/vitest';
import { CRDS } from '../src/api/crds.js';

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
  // Measured 20 MB of files (du: 41M) once @kubernetes/client-node left it (was 94 MB).
  maxMb: 30,
  startArgs: async () => [`--http01-solver-port=${await freePort()}`],
  crds: CRDS,
});
