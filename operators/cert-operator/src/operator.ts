import { DomainPolicyCache } from '@chousei/dns';
import {
  HTTPRoutes,
  type InformerScope,
  Ingresses,
  type Logger,
  type Manager,
  ServingCert,
  sleep,
  whenAborted,
} from '@chousei/runtime';
import type { IssuerRef } from './api/types.js';
import type { ServingCertConfig } from './config.js';
import { certificateController } from './controllers/certificates.js';
import { gatewayShims } from './controllers/gateway-shim.js';
import { ingressShim } from './controllers/ingress-shim.js';
import { IssuerBuilder } from './controllers/issuer-builder.js';
import { issuerControllers } from './controllers/issuers.js';
import { type BackoffPolicy, DEFAULT_BACKOFF } from './controllers/policy.js';
import { ShimRegistry } from './controllers/shim.js';
import { servedScope, servesClusterIssuers } from './scope.js';
import {
  LABEL_HTTP01,
  type RouteKind,
  type SolverService,
  TemporaryRoutes,
} from './solvers/http01/routed.js';
import type { HTTP01SelfCheckOptions } from './solvers/http01/self-check.js';
import { HTTP01Solver } from './solvers/http01/server.js';
import type { Nameserver } from './solvers/resolver.js';
import { certWebhook } from './webhook/server.js';

export interface CertOperatorOptions {
  /**
   * Serve this namespace only (cert-manager's --namespace): its Certificates, Issuers,
   * Secrets and Ingresses; ClusterIssuers are not served. clusterResourceNamespace must be
   * this namespace. Unset: every namespace.
   */
  namespace?: string;
  clusterResourceNamespace: string;
  defaultIssuer?: IssuerRef;
  /**
   * Gateway API (--enable-gateway-api): the Gateway shim, and gatewayHTTPRoute solvers;
   * with `listenerSets`, the ListenerSet shim too. Unset: Gateway API kinds are not read.
   */
  gatewayAPI?: { listenerSets: boolean };
  /** Port of the HTTP-01 challenge server (0: any free port). */
  http01SolverPort: number;
  /** Default: the manager's bindAddress. */
  http01SolverHost?: string;
  /** In a cluster: the Service reaching the challenge server (temporary Ingresses route to it). */
  http01SolverService?: SolverService;
  /**
   * The check that a challenge URL answers before the CA is asked to validate it (unless a
   * solver sets `selfCheck: false`): port 80, the system resolver, 2 minutes by default.
   */
  http01SelfCheck?: Omit<HTTP01SelfCheckOptions, 'logger'>;
  /** Where DNS-01 solvers with cnameStrategy Follow look CNAMEs up; default the system's. */
  dns01RecursiveNameservers?: Nameserver[];
  backoff?: BackoffPolicy;
  concurrency?: number;
  /** How often to ask an ACME CA again for a certificate's renewal window. Default 6 h. */
  renewalInfoIntervalMs?: number;
  /**
   * Serve the validating admission webhook (on every replica): from certDir or
   * certFile/keyFile, or with servingCert from a certificate the operator makes itself
   * (written to certDir, by default a temporary directory).
   */
  webhook?: {
    port: number;
    /** Default: the manager's bindAddress. */
    host?: string;
    certDir?: string;
    certFile?: string;
    keyFile?: string;
    servingCert?: ServingCertConfig & { checkIntervalMs?: number; caTrustDelayMs?: number };
  };
  logger: Logger;
}

/**
 * Wires the cert-operator into a manager: issuers, certificates, the ingress shim, the HTTP-01
 * server, and the validating webhook when asked for.
 */
export function setupCertOperator(manager: Manager, opts: CertOperatorOptions) {
  // In one namespace, its webhook Secret and temporary Ingresses must be where its Role and
  // its cache reach.
  for (const [what, ns] of [
    ['clusterResourceNamespace', opts.clusterResourceNamespace],
    ['http01SolverService.namespace', opts.http01SolverService?.namespace],
  ] as const) {
    if (opts.namespace && ns !== undefined && ns !== opts.namespace) {
      throw new Error(`${what} ${ns} must be the namespace served, ${opts.namespace}`);
    }
  }
  const scope = servedScope(opts.namespace);
  const events = manager.eventRecorder('chousei-cert-operator');
  const http01 = challengeServer(manager, opts, scope, () =>
    // Issuances in flight carry on through the shutdown grace period, and the CA may
    // validate their challenges meanwhile: closing first would fail them (the order
    // dropped, and a back-off). So the server outlives the certificate reconciles.
    certificates.queue.drain(Number.POSITIVE_INFINITY),
  );
  const issuers = new IssuerBuilder({
    client: manager.client,
    http01,
    ...(opts.http01SolverService ? { http01Service: opts.http01SolverService } : {}),
    gatewayAPI: !!opts.gatewayAPI,
    ...(opts.http01SelfCheck ? { http01SelfCheck: opts.http01SelfCheck } : {}),
    ...(opts.dns01RecursiveNameservers
      ? { dns01RecursiveNameservers: opts.dns01RecursiveNameservers }
      : {}),
    logger: opts.logger,
  });
  issuerControllers({
    manager,
    issuers,
    events,
    clusterResourceNamespace: opts.clusterResourceNamespace,
    scope,
  });
  const certificates = certificateController({
    manager,
    issuers,
    events,
    clusterResourceNamespace: opts.clusterResourceNamespace,
    scope,
    // Only ClusterIssuers, shared by every namespace, are bound by DomainPolicies.
    ...(servesClusterIssuers(scope)
      ? { domainPolicies: new DomainPolicyCache(manager.cache) }
      : {}),
    backoff: opts.backoff ?? DEFAULT_BACKOFF,
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
    ...(opts.renewalInfoIntervalMs ? { renewalInfoIntervalMs: opts.renewalInfoIntervalMs } : {}),
    logger: opts.logger,
  });
  const shim = {
    manager,
    events,
    scope,
    registry: new ShimRegistry(),
    ...(opts.defaultIssuer ? { defaultIssuer: opts.defaultIssuer } : {}),
  };
  ingressShim(shim);
  if (opts.gatewayAPI) gatewayShims({ ...shim, listenerSets: opts.gatewayAPI.listenerSets });
  const { webhook, servingCert } = webhookOf(manager, opts);
  return { certificates, http01, events, webhook, servingCert };
}

/**
 * How long a stopping replica keeps answering challenges while one is open: a terminating
 * Pod leaves the Service's rules on each node seconds later, and a CA's request sent to it
 * meanwhile must still be answered, or its challenge fails.
 */
const ENDPOINTS_SETTLE_MS = 10_000;

/**
 * The challenge server, on every replica: the leader presents tokens, and in a cluster the
 * others find them on its temporary routes (Ingresses in the shim's cache, HTTPRoutes in one
 * of temporary routes only). It stops once `closing` has ended.
 */
function challengeServer(
  manager: Manager,
  opts: CertOperatorOptions,
  scope: InformerScope,
  closing: () => Promise<unknown>,
): HTTP01Solver {
  const service = opts.http01SolverService;
  const kinds: RouteKind[] = [
    { resource: Ingresses, scope },
    ...(opts.gatewayAPI
      ? [{ resource: HTTPRoutes, scope: { ...scope, labelSelector: `${LABEL_HTTP01}=true` } }]
      : []),
  ];
  for (const { resource, scope } of kinds) manager.cache.informer(resource, scope);
  const routes = service && new TemporaryRoutes(manager.cache, service.namespace, kinds);
  const http01 = new HTTP01Solver(routes?.keyAuthorization);
  manager.add({
    name: 'http01-solver',
    needsLeaderElection: false,
    start: async (signal) => {
      await http01.start(opts.http01SolverPort, opts.http01SolverHost ?? manager.bindAddress);
      opts.logger.info({ port: http01.port }, 'HTTP-01 challenge server listening');
      await whenAborted(signal);
      await closing();
      // A cache that cannot answer counts as a challenge open.
      const open = await routes?.list().then(
        (r) => r.length > 0,
        () => true,
      );
      if (open) await sleep(ENDPOINTS_SETTLE_MS);
      await http01.stop();
    },
  });
  return http01;
}

/** The validating webhook when asked for, and the serving certificate it keeps itself. */
function webhookOf(manager: Manager, opts: CertOperatorOptions) {
  const selfManaged = opts.webhook?.servingCert;
  if (selfManaged && (opts.webhook?.certFile || opts.webhook?.keyFile)) {
    throw new Error('webhook.servingCert writes certDir; certFile and keyFile do not go with it');
  }
  const servingCert = selfManaged && servingCertOf(manager, selfManaged, opts);
  const webhook = opts.webhook
    ? certWebhook({
        ...opts.webhook,
        host: opts.webhook.host ?? manager.bindAddress,
        ...(servingCert ? { certDir: servingCert.certDir } : {}),
        ...(opts.namespace ? { namespace: opts.namespace } : {}),
        logger: opts.logger,
      })
    : undefined;
  if (servingCert) {
    // On every replica: each one serves the webhook from its own copy of the pair.
    manager.add({
      name: 'webhook serving certificate',
      needsLeaderElection: false,
      start: (signal) => servingCert.run(signal),
    });
  }
  // The server reads its files when it starts: with a self-managed pair, once it is written.
  if (webhook) {
    manager.addWebhookServer(
      webhook,
      servingCert ? { startAfter: (signal) => servingCert.whenReady(signal) } : {},
    );
  }
  return { webhook, servingCert };
}

/** The runtime's ServingCert, for the operator's ValidatingWebhookConfiguration. */
function servingCertOf(
  manager: Manager,
  {
    webhookConfigurationName,
    ...config
  }: NonNullable<NonNullable<CertOperatorOptions['webhook']>['servingCert']>,
  opts: CertOperatorOptions,
): ServingCert {
  return new ServingCert({
    ...config,
    client: manager.client,
    namespace: opts.clusterResourceNamespace,
    webhookConfigurations: webhookConfigurationName
      ? [{ kind: 'ValidatingWebhookConfiguration', name: webhookConfigurationName }]
      : [],
    ...(opts.webhook?.certDir ? { certDir: opts.webhook.certDir } : {}),
    caCommonName: 'chousei-cert-operator webhook CA',
    labels: { 'app.kubernetes.io/managed-by': 'chousei-cert-operator' },
    logger: opts.logger,
  });
}
