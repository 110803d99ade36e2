import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Certificates } from '@chousei/cert-operator';
import { Ingresses } from '@chousei/runtime';
import { waitFor, waitForCondition } from '@chousei/runtime/testing';
import {
  dashboardQueries,
  type MetricQuery,
  missingMetrics,
  type PrometheusAlert,
  parseMetrics,
  ruleQueries,
} from '@chousei/testenv';
import { beforeAll, describe, expect, it } from 'vitest';
import { useStack } from './world.ts';

const require = createRequire(import.meta.url);
const dashboard = async (pkg: string, file: string): Promise<MetricQuery[]> => {
  const dir = dirname(dirname(require.resolve(pkg)));
  return dashboardQueries(
    JSON.parse(await readFile(join(dir, 'deploy', 'dashboards', file), 'utf8')),
  );
};
// What a ServiceMonitor's scrape adds to every series (the operators export none of them).
const TARGET_LABELS = ['job', 'instance', 'namespace', 'service', 'endpoint', 'pod', 'container'];
// A dashboard's variables as Grafana substitutes them with "All" selected.
const withVariables = (expr: string) =>
  expr.replaceAll('$__rate_interval', '1m').replace(/\$(job|controller)\b/g, '.+');

describe('issue 16: the charts’ alert rules and dashboards on a real Prometheus scraping both operators', () => {
  const world = useStack({
    // The charts' 10 minutes would outlast the suite.
    prometheus: { for: '3s' },
    // A Certificate that failed while the CA was down is tried again within seconds.
    operatorArgs: { 'cert-operator': ['--backoff-initial=2s', '--backoff-max=4s'] },
  });
  let ns: string;
  beforeAll(async () => {
    ns = await world().cluster.createNamespace('monitoring');
  });
  /** An Ingress for `host` whose load balancer is `ip`; with `issuer`, TLS in NAME-tls. */
  const ingress = async (name: string, host: string, ip: string, issuer?: string) => {
    const { client } = world();
    await client.create(Ingresses, {
      metadata: {
        name,
        namespace: ns,
        ...(issuer ? { annotations: { 'cert-manager.io/cluster-issuer': issuer } } : {}),
      },
      spec: {
        rules: [{ host }],
        ...(issuer ? { tls: [{ hosts: [host], secretName: `${name}-tls` }] } : {}),
      },
    });
    await client.patchStatus(
      Ingresses,
      { namespace: ns, name },
      { type: 'merge', patch: { status: { loadBalancer: { ingress: [{ ip }] } } } },
    );
  };
  /** A Certificate for NAME.zone from the DNS-01 ClusterIssuer. */
  const dns01Certificate = (name: string) =>
    world().client.create(Certificates, {
      metadata: { name, namespace: ns },
      spec: {
        secretName: `${name}-tls`,
        issuerRef: { name: world().issuers.dns01, kind: 'ClusterIssuer' },
        dnsNames: [`${name}.${world().zone}`],
      },
    });
  const firing = async (alertname: string, labels: Record<string, string> = {}) =>
    (await world().monitoring!.prometheus.alerts()).find(
      (a: PrometheusAlert) =>
        a.state === 'firing' &&
        a.labels.alertname === alertname &&
        Object.entries(labels).every(([k, v]) => a.labels[k] === v),
    );

  it('scrapes both operators as their ServiceMonitors ask, and no alert fires while all is well', async () => {
    const { prometheus } = world().monitoring!;
    const targets = await waitFor(
      async () => {
        const t = await prometheus.targets();
        return t.length === 2 && t.every((x) => x.health === 'up') && t;
      },
      { timeoutMs: 20_000, description: 'both targets up' },
    );
    expect(targets.map((t) => t.job).sort()).toEqual([
      'cert-operator-metrics',
      'dns-operator-metrics',
    ]);
    // Longer than every rule's `for`: anything pending by now would fire.
    await new Promise((r) => setTimeout(r, 5000));
    expect((await prometheus.alerts()).map((a) => a.labels.alertname)).toEqual([]);
  });

  it('exports every metric its alert rules and dashboards read, with the labels they read, once it issued through HTTP-01 and DNS-01 and published a record', async () => {
    const s = world();
    await ingress('web', `web.${s.zone}`, '127.0.0.1', s.issuers.http01);
    await dns01Certificate('api');
    for (const name of ['web-tls', 'api'])
      await waitForCondition(s.client, Certificates, { namespace: ns, name }, 'Ready', {
        timeoutMs: 60_000,
      });

    const { rules, prometheus } = s.monitoring!;
    const runtime = await dashboard('@chousei/runtime', 'controller-runtime.json');
    const queries = {
      'cert-operator': [
        ...ruleQueries(rules['cert-operator']),
        ...(await dashboard('@chousei/cert-operator', 'cert-operator.json')),
        ...runtime,
      ],
      'dns-operator': [
        ...ruleQueries(rules['dns-operator']),
        ...(await dashboard('@chousei/dns-operator', 'dns-operator.json')),
        ...runtime,
      ],
    };
    for (const op of [s.certOperator, s.dnsOperator]) {
      const problems = missingMetrics(queries[op.name], parseMetrics(await op.metrics()), {
        targetLabels: TARGET_LABELS,
        prometheusSeries: ['up'],
      });
      expect(problems, op.name).toEqual([]);
    }
    // And Prometheus takes every query as it is written (a dashboard's with its variables).
    for (const q of [...queries['cert-operator'], ...queries['dns-operator']])
      await expect(prometheus.query(withVariables(q.expr)), q.where).resolves.toBeDefined();
  });

  it('fires ChouseiCertificateNotReady while the ACME server is down, and resolves it once it is back', async () => {
    const s = world();
    await s.pebble.stopServer();
    try {
      await dns01Certificate('outage');
      const alert = await waitFor(
        () => firing('ChouseiCertificateNotReady', { namespace: ns, name: 'outage' }),
        { timeoutMs: 30_000, intervalMs: 500, description: 'ChouseiCertificateNotReady firing' },
      );
      expect(alert.annotations.runbook_url).toMatch(
        /troubleshooting\.md#chouseicertificatenotready$/,
      );
    } finally {
      await s.pebble.startServer();
    }
    // Pebble forgot the account: the issuer registers again, the Certificate is issued.
    await waitForCondition(s.client, Certificates, { namespace: ns, name: 'outage' }, 'Ready', {
      timeoutMs: 60_000,
    });
    await waitFor(async () => !(await firing('ChouseiCertificateNotReady')), {
      timeoutMs: 15_000,
      intervalMs: 500,
      description: 'ChouseiCertificateNotReady resolved',
    });
  });

  it('fires ChouseiDNSRecordsPending while the DNS server is down, and resolves it once it is back', async () => {
    const s = world();
    const host = `pending.${s.zone}`;
    await s.bind.stopServer();
    try {
      await ingress('pending', host, '192.0.2.30');
      const alert = await waitFor(() => firing('ChouseiDNSRecordsPending'), {
        timeoutMs: 30_000,
        intervalMs: 500,
        description: 'ChouseiDNSRecordsPending firing',
      });
      expect(alert.labels).toMatchObject({ job: 'dns-operator-metrics', severity: 'warning' });
    } finally {
      await s.bind.startServer();
    }
    await waitFor(async () => (await s.bind.dig(host, 'A')).join() === '192.0.2.30', {
      timeoutMs: 60_000,
      description: `the A record of ${host}`,
    });
    await waitFor(async () => !(await firing('ChouseiDNSRecordsPending')), {
      timeoutMs: 15_000,
      intervalMs: 500,
      description: 'ChouseiDNSRecordsPending resolved',
    });
  });
});
