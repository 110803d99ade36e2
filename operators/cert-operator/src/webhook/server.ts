/**
 * The cert-operator's validating admission webhook: the rules of ./validation.ts served to
 * the API server, and the ValidatingWebhookConfiguration that points the API server here.
 */
import {
  type AdmissionHandler,
  type AdmissionRequest,
  allow,
  deny,
  jsonEqual,
  type Logger,
  type ValidationResult,
  validatingHandler,
  WebhookServer,
} from '@chousei/runtime';
import type {
  V1LabelSelector,
  V1ValidatingWebhook,
  V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { GROUP, VERSION } from '../api/types.js';
import { CLUSTER_ISSUERS_NOT_SERVED } from '../scope.js';
import { type FieldError, validateCertificate, validateIssuer } from './validation.js';

export const CERTIFICATE_WEBHOOK_PATH = '/validate-certificate';
export const ISSUER_WEBHOOK_PATH = '/validate-issuer';
export const CLUSTER_ISSUER_WEBHOOK_PATH = '/validate-clusterissuer';

/** Default name of the ValidatingWebhookConfiguration. */
export const WEBHOOK_CONFIGURATION_NAME = 'chousei-cert-operator';

export interface CertWebhookOptions {
  /** 0 picks a free port (read it from the server's `port` once started). */
  port: number;
  /** Default 0.0.0.0. */
  host?: string;
  /** Directory of `tls.crt` and `tls.key` (a mounted Secret); or the two files below. */
  certDir?: string;
  certFile?: string;
  keyFile?: string;
  /**
   * The one namespace the operator serves (--namespace): Certificates there that name a
   * ClusterIssuer are warned it is not served.
   */
  namespace?: string;
  logger: Logger;
}

type Kind = 'Certificate' | 'Issuer' | 'ClusterIssuer';

const line = (e: FieldError) => `${e.field}: ${e.message}`;

/** The little of an object the decision reads itself. */
interface Stored {
  metadata?: { deletionTimestamp?: string };
  spec?: unknown;
}

/**
 * The admission decision for one kind. On UPDATE an unchanged spec is admitted whatever
 * its problems, which come back as warnings: an object stored before the webhook (or a
 * rule) existed must still take finalizer, label and annotation changes, or it could never
 * be deleted.
 */
function decide(
  kind: Kind,
  req: AdmissionRequest<unknown>,
  check: (obj: unknown) => { errors: FieldError[]; warnings: FieldError[] },
  logger: Logger,
): ValidationResult {
  const obj = req.object as Stored | null | undefined;
  if (!obj) return allow();
  const { errors, warnings } = check(obj);
  if (!errors.length) return allow(warnings.map(line));
  const old = req.oldObject as Stored | null | undefined;
  const unchanged =
    req.operation === 'UPDATE' &&
    (jsonEqual(old?.spec, obj.spec) || !!obj.metadata?.deletionTimestamp);
  if (unchanged) {
    return allow([
      ...errors.map((e) => `${line(e)} (left alone: the spec did not change)`),
      ...warnings.map(line),
    ]);
  }
  const name = req.name || '(generated name)';
  logger.debug({ kind, namespace: req.namespace, name, errors }, 'refused an invalid object');
  const denied = deny(`${kind} ${name} is invalid`, errors);
  return warnings.length ? { ...denied, warnings: warnings.map(line) } : denied;
}

/**
 * Validates Certificates (what is registered at CERTIFICATE_WEBHOOK_PATH). With the one
 * `namespace` served, a Certificate there that names a ClusterIssuer is warned it will not be
 * issued (elsewhere it is another operator's).
 */
export function certificateAdmission(logger: Logger, namespace?: string): AdmissionHandler {
  return validatingHandler<unknown>((req) =>
    decide(
      'Certificate',
      req,
      (obj) => {
        const result = validateCertificate(obj);
        if (namespace === undefined || req.namespace !== namespace) return result;
        const ref = (obj as { spec?: { issuerRef?: { kind?: unknown } } }).spec?.issuerRef;
        if (ref?.kind !== 'ClusterIssuer') return result;
        const warning = {
          field: 'spec.issuerRef.kind',
          message: `${CLUSTER_ISSUERS_NOT_SERVED}: this Certificate will not be issued; use an Issuer in ${namespace}`,
        };
        return { ...result, warnings: [...result.warnings, warning] };
      },
      logger,
    ),
  );
}

/** Validates Issuers or ClusterIssuers. */
export function issuerAdmission(
  kind: 'Issuer' | 'ClusterIssuer',
  logger: Logger,
): AdmissionHandler {
  return validatingHandler<unknown>((req) =>
    decide(kind, req, (obj) => ({ errors: validateIssuer(obj, kind), warnings: [] }), logger),
  );
}

/**
 * A webhook server with the three validating webhooks registered; give it to
 * `manager.addWebhookServer` (or start it yourself).
 */
export function certWebhook(opts: CertWebhookOptions): WebhookServer {
  const server = new WebhookServer({
    port: opts.port,
    ...(opts.host ? { host: opts.host } : {}),
    ...(opts.certDir ? { certDir: opts.certDir } : {}),
    ...(opts.certFile ? { certFile: opts.certFile } : {}),
    ...(opts.keyFile ? { keyFile: opts.keyFile } : {}),
    logger: opts.logger,
  });
  const logger = opts.logger.child({ component: 'cert-webhook' });
  server.register(CERTIFICATE_WEBHOOK_PATH, certificateAdmission(logger, opts.namespace));
  server.register(ISSUER_WEBHOOK_PATH, issuerAdmission('Issuer', logger));
  server.register(CLUSTER_ISSUER_WEBHOOK_PATH, issuerAdmission('ClusterIssuer', logger));
  return server;
}

export interface WebhookConfigurationOptions {
  /** PEM of the CA that signed the webhook's serving certificate. */
  caBundlePem: string;
  /** Base URL of the server, e.g. `https://127.0.0.1:9443`; each webhook's path is appended. */
  url?: string;
  /** Or the Service in front of the operator's pods (port default 443). */
  service?: { namespace: string; name: string; port?: number };
  /** Default WEBHOOK_CONFIGURATION_NAME. */
  name?: string;
  /**
   * Namespaces whose Certificates and Issuers are validated (default all). The API server
   * does not apply it to ClusterIssuers, which have no namespace: see `objectSelector`.
   */
  namespaceSelector?: V1LabelSelector;
  /** Objects validated (default all), by their own labels; the one scope for ClusterIssuers. */
  objectSelector?: V1LabelSelector;
}

/**
 * The ValidatingWebhookConfiguration for `certWebhook`: CREATE and UPDATE of Certificates,
 * Issuers and ClusterIssuers, failing closed (an unreachable webhook refuses the write).
 */
export function webhookConfiguration(
  opts: WebhookConfigurationOptions,
): V1ValidatingWebhookConfiguration {
  if (!opts.url === !opts.service) {
    throw new Error('webhookConfiguration needs exactly one of url or service');
  }
  const caBundle = Buffer.from(opts.caBundlePem).toString('base64');
  const base = opts.url?.replace(/\/+$/, '');
  const hook = (
    resource: string,
    path: string,
    scope: 'Namespaced' | 'Cluster',
  ): V1ValidatingWebhook => ({
    name: `${resource}.${GROUP}`,
    clientConfig: {
      ...(base
        ? { url: `${base}${path}` }
        : {
            service: {
              namespace: opts.service!.namespace,
              name: opts.service!.name,
              port: opts.service!.port ?? 443,
              path,
            },
          }),
      caBundle,
    },
    rules: [
      {
        apiGroups: [GROUP],
        apiVersions: [VERSION],
        operations: ['CREATE', 'UPDATE'],
        resources: [resource],
        scope,
      },
    ],
    failurePolicy: 'Fail',
    sideEffects: 'None',
    timeoutSeconds: 5,
    admissionReviewVersions: ['v1'],
    ...(opts.namespaceSelector && scope === 'Namespaced'
      ? { namespaceSelector: opts.namespaceSelector }
      : {}),
    ...(opts.objectSelector ? { objectSelector: opts.objectSelector } : {}),
  });
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: opts.name ?? WEBHOOK_CONFIGURATION_NAME },
    webhooks: [
      hook('certificates', CERTIFICATE_WEBHOOK_PATH, 'Namespaced'),
      hook('issuers', ISSUER_WEBHOOK_PATH, 'Namespaced'),
      hook('clusterissuers', CLUSTER_ISSUER_WEBHOOK_PATH, 'Cluster'),
    ],
  };
}
