import { fileURLToPath } from 'node:url';
import { imageBundleSuite } from '@chousei/testenv/vitest';
import { CRDS } from '../src/api/dnsendpoint.js';

imageBundleSuite({
  operatorDir: fileURLToPath(new URL('..', import.meta.url)),
  command: 'chousei-dns-operator',
  flags: ['--provider', '--source', '--rfc2136-host', '--kubeconfig', '--leader-elect'],
  workspaceDeps: ['@chousei/runtime', '@chousei/dns'],
  // Measured 12.6 MB of files (du: 29M) once @kubernetes/client-node left it (was 87 MB).
  maxMb: 20,
  startArgs: () => ['--provider=inmemory', '--inmemory-zone=bundle.test', '--source=ingress'],
  // Serving every namespace, it reads DomainPolicies: ready once their CRD is served.
  crds: CRDS,
});
