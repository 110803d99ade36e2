import { fileURLToPath } from 'node:url';
import { renderChart } from '@chousei/testenv';
import { chartSuite } from '@chousei/testenv/vitest';
import { describe, expect, it } from 'vitest';
import { CRDS } from '../src/api/crds.js';
import { parseConfig } from '../src/config.js';

const deployDir = fileURLToPath(new URL('../deploy', import.meta.url));

chartSuite({
  deployDir,
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
    'Gateway API with ListenerSets': { gatewayAPI: { enabled: true, listenerSets: true } },
    'no webhook, one replica': { 'webhook.enabled': false, replicas: 1, leaderElection: false },
    'HTTP-01 self-check and DNS-01 CNAMEs through given nameservers': {
      'http01.selfCheckNameservers': ['10.96.0.53', '10.96.0.54:5353'],
      dns01RecursiveNameservers: ['10.96.0.53'],
    },
    // chartSuite renders into the namespace cert-operator: the one a namespaced release serves.
    'one namespace with an Issuer as default issuer': {
      watchNamespace: 'cert-operator',
      defaultIssuer: { name: 'internal', kind: 'Issuer' },
    },
  },
});

describe('cert-operator chart with watchNamespace', () => {
  const render = (set: Record<string, unknown>, namespace = 'apps') =>
    renderChart(`${deployDir}/chart`, { release: 'cert-operator', namespace, set });

  it('grants a Role there, no ClusterIssuers, and cluster-wide only the webhook configuration', async () => {
    const objects = await render({ watchNamespace: 'apps' });
    const rules = (kind: string) =>
      objects
        .filter((o) => o.kind === kind && !/-(view|edit)$/.test(o.metadata?.name ?? ''))
        .flatMap((o) => (o as { rules?: Array<{ resources?: string[] }> }).rules ?? []);
    expect(rules('ClusterRole').flatMap((r) => r.resources)).toEqual([
      'validatingwebhookconfigurations',
    ]);
    expect(
      objects.filter((o) => o.kind === 'ClusterRoleBinding').map((o) => o.metadata?.name),
    ).toEqual(['cert-operator-webhook']);
    expect(rules('Role').flatMap((r) => r.resources)).toContain('certificates');
    const rest = objects.filter((o) => o.kind !== 'CustomResourceDefinition');
    expect(JSON.stringify(rest)).not.toContain('clusterissuers');
  });

  it('refuses what one namespace cannot serve, saying why', async () => {
    await expect(render({ watchNamespace: 'apps' }, 'cert-operator')).rejects.toThrow(
      /watchNamespace "apps" must be the release namespace "cert-operator"/,
    );
    await expect(
      render({ watchNamespace: 'apps', clusterResourceNamespace: 'ops' }),
    ).rejects.toThrow(
      /clusterResourceNamespace "ops" must be empty or the release namespace "apps"/,
    );
    // Without watchNamespace too: the webhook's Secret and the challenge Service live there.
    await expect(render({ clusterResourceNamespace: 'ops' }, 'cert-operator')).rejects.toThrow(
      /clusterResourceNamespace "ops" must be empty or the release namespace "cert-operator"/,
    );
    await expect(
      render({ watchNamespace: 'apps', clusterIssuers: { le: { selfSigned: {} } } }),
    ).rejects.toThrow(/ClusterIssuers are not served with watchNamespace/);
    await expect(
      render({
        watchNamespace: 'apps',
        'defaultIssuer.name': 'le',
        'defaultIssuer.kind': 'ClusterIssuer',
      }),
    ).rejects.toThrow(/defaultIssuer.kind must be Issuer with watchNamespace/);
    // The name alone is an Issuer's, as in cert-manager's chart: it renders.
    await render({ watchNamespace: 'apps', 'defaultIssuer.name': 'le' });
  });
});
