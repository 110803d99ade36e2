// The whole world on loopback: a control plane (with Gateway API's CRDs), BIND9 serving one
// zone, Pebble resolving through BIND9, and both operators as processes of their built
// commands, under the RBAC of their Helm charts. An Ingress whose load balancer is 127.0.0.1,
// or an HTTPRoute of a Gateway at 127.0.0.1, gets an A record from the dns-operator; that
// record leads Pebble's HTTP-01 validation to the cert-operator.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterIssuers, type Issuer, type TsigAlgorithmName } from '@chousei/cert-operator';
import { Client, Secrets } from '@chousei/runtime';
import { waitForCondition } from '@chousei/runtime/testing';
import {
  type Bind9,
  type ControlPlane,
  type DnsGate,
  freePort,
  installGatewayApi,
  type Pebble,
  type Prometheus,
  type RuleFile,
  renderChart,
  ruleFileOf,
  type ServerProcess,
  scrapeJobOf,
  startBind9,
  startControlPlane,
  startDnsGate,
  startOperatorProcess,
  startPebble,
  startPrometheus,
  type TsigAlgorithm,
} from '@chousei/testenv';
import { chartDir, installChart, type OperatorName, packageDir } from './charts.ts';
import { type Steps, silentSteps } from './progress.ts';

export interface StackOptions {
  /** The zone BIND9 serves and both operators write to. Default `chousei.test`. */
  zone?: string;
  /** The dns-operator's --resync-interval. Default 2s: coexistence shows within seconds. */
  dnsResyncInterval?: string;
  /** Both operators' --log-level. Default info. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Reports each start-up step (the sandbox's progress display). Default: silent. */
  steps?: Steps;
  /** Aborting it stops the start-up, and everything started is removed, logs too. */
  signal?: AbortSignal;
  /**
   * A Prometheus server scraping both operators as their charts' ServiceMonitors ask, with
   * the charts' alert rules, each holding `for` (the charts' 10 minutes) before firing.
   */
  prometheus?: { for: string };
  /** Further flags of an operator, e.g. a shorter --backoff-initial. */
  operatorArgs?: Partial<Record<OperatorName, string[]>>;
}

/** One operator running as a process of its built command. */
export interface OperatorProcess {
  name: OperatorName;
  /** The chart's release namespace: its ServiceAccount, Lease and (cert) Secrets. */
  namespace: string;
  serviceAccount: string;
  kubeconfig: string;
  /** Everything the process wrote (JSON log lines), kept until stop(). */
  logFile: string;
  metricsUrl: string;
  process: ServerProcess;
  /** Its Prometheus metrics, as text. */
  metrics(): Promise<string>;
}

export interface Stack {
  cluster: ControlPlane;
  /** An admin client. */
  client: Client;
  /** The admin kubeconfig file, e.g. for kubectl. */
  adminKubeconfig: string;
  bind: Bind9;
  pebble: Pebble;
  /**
   * Between the DNS-01 solver and BIND9: holding `_acme-challenge` queries holds the
   * solver's propagation check, so the challenge TXT stays published (a slow nameserver).
   */
  dnsGate: DnsGate;
  zone: string;
  /**
   * The ClusterIssuers, all Ready: HTTP-01 for any name (through a temporary Ingress, or with
   * `http01Gateway` a temporary HTTPRoute attached to GATEWAY), DNS-01 for names in the zone.
   */
  issuers: { http01: string; http01Gateway: string; dns01: string };
  /** The dns-operator's --txt-owner-id. */
  ownerId: string;
  dnsOperator: OperatorProcess;
  certOperator: OperatorProcess;
  /** With `prometheus`: the server and the alert rules of each chart it evaluates. */
  monitoring?: { prometheus: Prometheus; rules: Record<OperatorName, RuleFile> };
  /** Where the operators' logs are. */
  dir: string;
  /** Rejects when an operator process exits before stop(), with the end of its log. */
  crashed: Promise<never>;
  /** Stops every process and server and removes their files; the logs stay with keepLogs. */
  stop(opts?: { keepLogs?: boolean }): Promise<void>;
}

const TSIG: Record<TsigAlgorithm, TsigAlgorithmName> = {
  'hmac-md5': 'HMACMD5',
  'hmac-sha1': 'HMACSHA1',
  'hmac-sha224': 'HMACSHA224',
  'hmac-sha256': 'HMACSHA256',
  'hmac-sha384': 'HMACSHA384',
  'hmac-sha512': 'HMACSHA512',
};
const OWNER_ID = 'chousei-e2e';
/**
 * The Gateway the `http01Gateway` issuer's challenge routes attach to (its `http` listener):
 * a shared one, in a namespace of its own, as platform teams run them. Users of the stack
 * create it.
 */
export const GATEWAY = { namespace: 'gateways', name: 'edge', sectionName: 'http' } as const;
/** What the charts grant beside their defaults: the Gateway API sources and shim. */
const gatewayValues: Record<OperatorName, Record<string, unknown>> = {
  'dns-operator': { sources: ['ingress', 'service', 'dnsendpoint', 'gateway-httproute'] },
  'cert-operator': { 'gatewayAPI.enabled': true },
};
/** The charts' values for kube-prometheus-stack, rendered without its CRDs in the cluster. */
const monitoringValues = (rulesFor: string) => ({
  'serviceMonitor.enabled': true,
  'serviceMonitor.forceEnable': true,
  'prometheusRule.enabled': true,
  'prometheusRule.forceEnable': true,
  'prometheusRule.for': rulesFor,
});
/** Long enough for a sandbox left running; TokenRequest's default is an hour. */
const TOKEN_SECONDS = 7 * 24 * 3600;

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const zone = opts.zone ?? 'chousei.test';
  const steps = opts.steps ?? silentSteps;
  const dir = await mkdtemp(join(tmpdir(), 'chousei-e2e-'));
  // Undone in reverse order, on stop() or when a later step fails.
  const undo: Array<() => Promise<void>> = [];
  const started = <T>(value: T, stop: (v: T) => Promise<void>): T => {
    undo.push(() => stop(value));
    return value;
  };
  let stopping = false;
  let crash!: (err: Error) => void;
  const crashed = new Promise<never>((_, reject) => {
    crash = reject;
  });
  crashed.catch(() => {}); // Only a waiter that races it cares.

  const stopAll = async (keepLogs: boolean) => {
    stopping = true;
    for (const u of undo.splice(0).reverse()) await u().catch(() => {});
    if (!keepLogs) await rm(dir, { recursive: true, force: true });
  };

  try {
    const solverPort = await freePort();
    const [cluster, { bind, pebble, dnsGate }, charts] = await allStarted([
      steps.step('control plane (etcd, kube-apiserver)', async () =>
        started(await startControlPlane(), (cp) => cp.stop()),
      ),
      (async () => {
        const bind = await steps.step(`BIND9 serving ${zone}`, async () =>
          started(await startBind9({ zones: [zone] }), (b) => b.stop()),
        );
        const dnsGate = started(await startDnsGate(bind), (g) => g.stop());
        // Pebble resolves names through BIND9: what the dns-operator publishes is what it sees.
        const pebble = await steps.step('Pebble ACME server', async () =>
          started(await startPebble({ httpPort: solverPort, dnsServer: bind.address }), (p) =>
            p.stop(),
          ),
        );
        return { bind, pebble, dnsGate };
      })(),
      Promise.all(
        (['dns-operator', 'cert-operator'] as const).map(async (name) => ({
          name,
          objects: await renderChart(chartDir(name), {
            release: name,
            namespace: name,
            set: {
              ...gatewayValues[name],
              ...(opts.prometheus ? monitoringValues(opts.prometheus.for) : {}),
            },
          }),
        })),
      ),
    ]);
    opts.signal?.throwIfAborted();
    const client = new Client(cluster.kubeConfig);

    // What `helm install` would create that the processes need: CRDs, ServiceAccounts, RBAC;
    // and Gateway API's CRDs, as a cluster with a Gateway controller has them.
    await steps.step("Gateway API's CRDs", () => installGatewayApi(cluster, 'standard'));
    await cluster.ensureNamespace(GATEWAY.namespace);
    const accounts = await steps.step('charts: CRDs, ServiceAccounts, RBAC', () =>
      Promise.all(
        charts.map(async ({ name, objects }) => {
          const { serviceAccount: sa, kubeconfig } = await installChart(
            cluster,
            name,
            objects,
            TOKEN_SECONDS,
          );
          return { name, sa, kubeconfig };
        }),
      ),
    );
    const account = (name: OperatorName) => accounts.find((a) => a.name === name)!;
    opts.signal?.throwIfAborted();

    // Created before the operators start, as the chart's clusterIssuers values would be: their
    // first list has them (a watch on a CRD fresh in a quiet API server can lag a second or two).
    const issuers = {
      http01: 'pebble-http01',
      http01Gateway: 'pebble-http01-gateway',
      dns01: 'pebble-dns01',
    };
    await client.create(Secrets, {
      metadata: { name: 'bind9-tsig', namespace: 'cert-operator' },
      stringData: { secret: bind.tsig.secret },
    });
    const acme = (name: string, solvers: NonNullable<Issuer['spec']['acme']>['solvers']) => ({
      metadata: { name },
      spec: {
        acme: {
          server: pebble.directoryUrl,
          email: `ops@${zone}`,
          privateKeySecretRef: { name: `${name}-account` },
          caBundle: Buffer.from(pebble.tlsCaPem).toString('base64'),
          solvers,
        },
      },
    });
    await client.create(ClusterIssuers, acme(issuers.http01, [{ http01: {} }]));
    await client.create(
      ClusterIssuers,
      acme(issuers.http01Gateway, [{ http01: { gatewayHTTPRoute: { parentRefs: [GATEWAY] } } }]),
    );
    await client.create(
      ClusterIssuers,
      acme(issuers.dns01, [
        {
          selector: { dnsZones: [zone] },
          dns01: {
            rfc2136: {
              nameserver: dnsGate.address,
              tsigKeyName: bind.tsig.name,
              tsigAlgorithm: TSIG[bind.tsig.algorithm],
              tsigSecretSecretRef: { name: 'bind9-tsig', key: 'secret' },
            },
          },
        },
      ]),
    );

    const startOperator = async (name: OperatorName, args: string[], env = {}) => {
      const { sa, kubeconfig } = account(name);
      const logFile = join(dir, `${name}.log`);
      const op = await startOperatorProcess({
        name,
        operatorDir: packageDir(name),
        args: [
          ...args,
          `--kubeconfig=${kubeconfig}`,
          // As the chart runs it: leader election on a Lease in the release namespace.
          '--leader-elect',
          `--leader-election-namespace=${name}`,
          `--log-level=${opts.logLevel ?? 'info'}`,
          ...(opts.operatorArgs?.[name] ?? []),
        ],
        env,
        logFile,
      });
      const proc = started(op.process, (p) => p.stop());
      proc.child.once('exit', (code, signal) => {
        if (!stopping) {
          crash(new Error(`${name} exited (${signal ?? code}); last output:\n${proc.tail(20)}`));
        }
      });
      await op.waitUntilReady(30_000, async () =>
        /^leader_election_master_status\{[^}]*\} 1$/m.test(await op.metrics()),
      );
      return {
        name,
        namespace: name,
        serviceAccount: sa,
        kubeconfig,
        logFile,
        metricsUrl: op.metricsUrl,
        process: proc,
        metrics: op.metrics,
      } satisfies OperatorProcess;
    };

    const [dnsOperator, certOperator] = await allStarted([
      steps.step('dns-operator ready and leading', () =>
        startOperator(
          'dns-operator',
          [
            '--provider=rfc2136',
            `--rfc2136-host=${bind.host}`,
            `--rfc2136-port=${bind.port}`,
            `--rfc2136-zone=${zone}`,
            `--rfc2136-tsig-keyname=${bind.tsig.name}`,
            `--rfc2136-tsig-secret-alg=${bind.tsig.algorithm}`,
            '--policy=sync',
            `--txt-owner-id=${OWNER_ID}`,
            `--resync-interval=${opts.dnsResyncInterval ?? '2s'}`,
            `--source=${(gatewayValues['dns-operator'].sources as string[]).join(',')}`,
          ],
          // As the chart passes it: from a Secret, through the environment.
          { CHOUSEI_DNS_RFC2136_TSIG_SECRET: bind.tsig.secret },
        ),
      ),
      steps.step('cert-operator ready and leading', async () =>
        startOperator('cert-operator', [
          '--cluster-resource-namespace=cert-operator',
          // Where Pebble connects for HTTP-01 (its httpPort).
          `--http01-solver-port=${solverPort}`,
          // As the chart runs it: challenges routed by temporary Ingresses (HTTPRoutes with
          // Gateway API) to its Service, which in a cluster reaches that port.
          `--http01-solver-service=cert-operator-http01:${solverPort}`,
          '--enable-gateway-api',
          // The self-check fetches each challenge as Pebble will: names from BIND9, on its
          // httpPort. It waits out the moment before the dns-operator publishes an Ingress's A
          // record, so Pebble is not asked (and does not fail) before the name resolves.
          `--http01-self-check-nameservers=${bind.address}`,
          `--http01-self-check-port=${solverPort}`,
          // As the chart runs it: the webhook's serving certificate kept in a Secret. The API
          // server is not told of the webhook (no Service reaches loopback).
          `--webhook-port=${await freePort()}`,
          '--webhook-secret=cert-operator-webhook-tls',
          '--webhook-service=cert-operator-webhook',
        ]),
      ),
    ]);

    opts.signal?.throwIfAborted();
    const monitoring = opts.prometheus
      ? await steps.step('Prometheus scraping both operators, with their alert rules', async () => {
          const target = (name: OperatorName) =>
            new URL((name === 'dns-operator' ? dnsOperator : certOperator).metricsUrl).host;
          const prometheus = started(
            await startPrometheus({
              jobs: charts.map((c) => scrapeJobOf(c.objects, [target(c.name)])),
              rules: { groups: charts.flatMap((c) => ruleFileOf(c.objects).groups) },
            }),
            (p) => p.stop(),
          );
          const rules = Object.fromEntries(charts.map((c) => [c.name, ruleFileOf(c.objects)]));
          return { prometheus, rules: rules as Record<OperatorName, RuleFile> };
        })
      : undefined;
    await steps.step(`ClusterIssuers ${Object.values(issuers).join(', ')} Ready`, () =>
      Promise.all(
        Object.values(issuers).map((name) =>
          waitForCondition(client, ClusterIssuers, { name }, 'Ready', { timeoutMs: 30_000 }),
        ),
      ),
    );

    return {
      cluster,
      client,
      adminKubeconfig: await cluster.writeKubeconfig(cluster.kubeConfig, 'admin.kubeconfig'),
      bind,
      pebble,
      dnsGate,
      zone,
      issuers,
      ownerId: OWNER_ID,
      dnsOperator,
      certOperator,
      ...(monitoring ? { monitoring } : {}),
      dir,
      crashed,
      stop: (o = {}) => stopAll(!!o.keepLogs),
    };
  } catch (err) {
    // Logs explain a failure; after an abort there is nothing to explain.
    if (opts.signal?.aborted) {
      await stopAll(false);
      throw err;
    }
    await stopAll(true);
    throw new Error(`${(err as Error).message}\n(operator logs kept in ${dir})`, { cause: err });
  }
}

/** Promise.all, but it lets every promise settle: whatever started is then there to stop. */
async function allStarted<T extends readonly unknown[] | []>(
  promises: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  await Promise.allSettled(promises);
  return Promise.all(promises);
}
