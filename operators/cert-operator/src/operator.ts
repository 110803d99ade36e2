import { EventRecorder, type Logger, type Manager, whenAborted } from '@chousei/runtime';
import type { IssuerRef } from './api/types.js';
import { certificateController } from './controllers/certificates.js';
import { ingressShim } from './controllers/ingress-shim.js';
import { IssuerBuilder } from './controllers/issuer-builder.js';
import { issuerControllers } from './controllers/issuers.js';
import { type BackoffPolicy, DEFAULT_BACKOFF } from './controllers/policy.js';
import type { SolverService } from './solvers/http01/ingress-route.js';
import { HTTP01Solver } from './solvers/http01/server.js';
import { certWebhook } from './webhook/server.js';

export interface CertOperatorOptions {
  clusterResourceNamespace: string;
  defaultIssuer?: IssuerRef;
  /** Port of the HTTP-01 challenge server (0: any free port). */
  http01SolverPort: number;
  http01SolverHost?: string;
  /** In a cluster: the Service reaching the challenge server (temporary Ingresses route to it). */
  http01SolverService?: SolverService;
  backoff?: BackoffPolicy;
  concurrency?: number;
  /** Serve the validating admission webhook (on every replica); certDir or certFile/keyFile. */
  webhook?: { port: number; host?: string; certDir?: string; certFile?: string; keyFile?: string };
  logger: Logger;
}

/**
 * Wires the cert-operator into a manager: issuers, certificates, the ingress shim, the HTTP-01
 * server, and the validating webhook when asked for.
 */
export function setupCertOperator(manager: Manager, opts: CertOperatorOptions) {
  const events = new EventRecorder(manager.client, {
    controller: 'chousei-cert-operator',
    logger: opts.logger,
  });
  const http01 = new HTTP01Solver();
  // The challenge server runs on every replica; tokens live in the leader that solves.
  manager.add({
    name: 'http01-solver',
    needsLeaderElection: false,
    start: async (signal) => {
      await http01.start(opts.http01SolverPort, opts.http01SolverHost ?? '0.0.0.0');
      opts.logger.info({ port: http01.port }, 'HTTP-01 challenge server listening');
      await whenAborted(signal);
      await http01.stop();
    },
  });
  const issuers = new IssuerBuilder({
    client: manager.client,
    http01,
    ...(opts.http01SolverService ? { http01Service: opts.http01SolverService } : {}),
    logger: opts.logger,
  });
  issuerControllers({
    manager,
    issuers,
    events,
    clusterResourceNamespace: opts.clusterResourceNamespace,
  });
  const certificates = certificateController({
    manager,
    issuers,
    events,
    clusterResourceNamespace: opts.clusterResourceNamespace,
    backoff: opts.backoff ?? DEFAULT_BACKOFF,
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
    logger: opts.logger,
  });
  ingressShim({
    manager,
    events,
    ...(opts.defaultIssuer ? { defaultIssuer: opts.defaultIssuer } : {}),
  });
  const webhook = opts.webhook ? certWebhook({ ...opts.webhook, logger: opts.logger }) : undefined;
  if (webhook) manager.addWebhookServer(webhook);
  return { certificates, http01, events, webhook };
}
