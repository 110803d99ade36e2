import { fileURLToPath } from 'node:url';
import { renderChart } from '@chousei/testenv';
import { chartSuite } from '@chousei/testenv/vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
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
    'PowerDNS with the API key from a Secret': {
      provider: {
        name: 'pdns',
        pdns: {
          server: 'http://pdns.dns.svc:8081',
          apiKeySecret: { name: 'pdns', key: 'api-key' },
        },
      },
    },
    'an external-dns webhook provider as a sidecar': {
      provider: {
        name: 'webhook',
        webhook: {
          sidecar: {
            image: 'ghcr.io/example/external-dns-cloudflare-webhook:v1',
            args: ['--zone=example.org'],
            env: [
              {
                name: 'CF_API_TOKEN',
                valueFrom: { secretKeyRef: { name: 'cloudflare', key: 'api-token' } },
              },
            ],
          },
        },
      },
      domainFilters: ['example.org'],
      // The sidecar's /healthz takes 8080, the operator's default metrics port.
      ports: { metrics: 9090, health: 8081 },
    },
    'one namespace, one replica': { watchNamespace: 'apps', replicas: 1, leaderElection: false },
    'Gateway API routes with ListenerSets': {
      sources: ['ingress', 'gateway-httproute', 'gateway-tlsroute'],
      gatewayListenerSets: true,
    },
    'Route53 with static credentials': {
      'provider.route53.credentialsSecret': 'aws',
      domainFilters: ['example.com'],
    },
  },
});

describe('dns-operator chart with watchNamespace', () => {
  it('grants only a Role there: DomainPolicies and Namespaces are read only when serving every namespace', async () => {
    const rules = (objects: KubernetesObject[], kind: string) =>
      objects
        .filter((o) => o.kind === kind && !/-(view|edit)$/.test(o.metadata?.name ?? ''))
        .flatMap((o) => (o as { rules?: Array<{ resources?: string[] }> }).rules ?? [])
        .flatMap((r) => r.resources ?? []);
    const render = (set: Record<string, unknown>) =>
      renderChart(fileURLToPath(new URL('../deploy/chart', import.meta.url)), {
        release: 'dns-operator',
        namespace: 'dns-operator',
        set,
      });
    const one = await render({ watchNamespace: 'apps' });
    expect(rules(one, 'ClusterRole')).toEqual([]);
    expect(rules(one, 'Role')).not.toContain('domainpolicies');
    const all = await render({});
    expect(rules(all, 'ClusterRole')).toEqual(
      expect.arrayContaining(['domainpolicies', 'namespaces']),
    );
  });
});
