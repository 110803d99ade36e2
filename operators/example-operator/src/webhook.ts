/**
 * Admission for SecretMirrors: a defaulting (mutating) webhook and a validating one, served
 * by the runtime's WebhookServer from a serving certificate the runtime's ServingCert keeps.
 * The CRD's schema and CEL rules check what they can; these do what they cannot: a default
 * taken from another field, and label keys and values (map keys are beyond a schema).
 */
import {
  type AdmissionHandler,
  allow,
  deny,
  jsonEqual,
  type Logger,
  labelSelectorProblems,
  type Manager,
  type MutatingWebhookConfiguration,
  mutatingHandler,
  ServingCert,
  type ValidatingWebhookConfiguration,
  validatingHandler,
  WebhookServer,
} from '@chousei/runtime';
import { GROUP, type SecretMirror, VERSION } from './api/secretmirror.js';

export const DEFAULTING_PATH = '/default-secretmirror';
export const VALIDATING_PATH = '/validate-secretmirror';

/**
 * The defaults: a SecretMirror without `spec.sourceRef.name` copies the Secret of its own
 * name (most are named after what they copy). Runs before the schema's checks, so the
 * field the schema requires is there by then.
 */
export const defaulting: AdmissionHandler = mutatingHandler<SecretMirror>((mirror) => {
  const name = mirror.metadata?.name;
  // With generateName there is no name yet: the schema then asks for the field.
  if (!name || mirror.spec?.sourceRef?.name) return;
  mirror.spec = { ...mirror.spec, sourceRef: { ...mirror.spec?.sourceRef, name } };
});

/**
 * Refuses a namespaceSelector with label keys or values no namespace can carry, naming the
 * field. An UPDATE that leaves the spec alone is admitted whatever it holds: an object
 * stored before this rule must still take finalizer and label changes, or be stuck.
 */
export const validating: AdmissionHandler = validatingHandler<SecretMirror>((req) => {
  const mirror = req.object;
  if (!mirror?.spec) return allow();
  if (req.operation === 'UPDATE' && jsonEqual(req.oldObject?.spec, mirror.spec)) return allow();
  const problems = labelSelectorProblems(
    mirror.spec.namespaceSelector ?? {},
    'spec.namespaceSelector',
  );
  if (!problems.length) return allow();
  return deny(`SecretMirror ${req.name || '(generated name)'} is invalid`, problems);
});

export interface AdmissionOptions {
  /** Port of the webhook server (0: a free one). */
  port: number;
  /** Default: the manager's bind address. */
  host?: string;
  /** The Secret (in `namespace`) the CA and serving pair are kept in. */
  secretName: string;
  /** The Service in front of the webhook server: the certificate is for its DNS names. */
  serviceName: string;
  namespace: string;
  /** The Mutating- and ValidatingWebhookConfiguration (one name) whose caBundle is kept. */
  configurationName: string;
  logger: Logger;
}

/**
 * Serves both webhooks on every replica: the runtime's ServingCert keeps the serving pair
 * and the caBundles, and the server starts once the pair is on disk.
 */
export function setupAdmission(manager: Manager, opts: AdmissionOptions): WebhookServer {
  const kinds = ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'] as const;
  const servingCert = new ServingCert({
    client: manager.client,
    namespace: opts.namespace,
    secretName: opts.secretName,
    serviceName: opts.serviceName,
    webhookConfigurations: kinds.map((kind) => ({ kind, name: opts.configurationName })),
    caCommonName: 'chousei-example-operator webhook CA',
    logger: opts.logger,
  });
  const server = new WebhookServer({
    port: opts.port,
    host: opts.host ?? manager.bindAddress,
    certDir: servingCert.certDir,
    logger: opts.logger,
  });
  server.register(DEFAULTING_PATH, defaulting);
  server.register(VALIDATING_PATH, validating);
  manager.add({
    name: 'webhook serving certificate',
    needsLeaderElection: false,
    start: (signal) => servingCert.run(signal),
  });
  manager.addWebhookServer(server, { startAfter: (signal) => servingCert.whenReady(signal) });
  return server;
}

export interface WebhookConfigurationOptions {
  name: string;
  /** The webhook Service, as the chart makes it. */
  service: { namespace: string; name: string; port?: number };
  /** Namespaces whose SecretMirrors are admitted by these webhooks (default: all). */
  namespaceSelector?: { matchLabels: Record<string, string> };
}

/**
 * The two configurations the chart installs (deploy/chart/templates/webhook.yaml): CREATE
 * and UPDATE of SecretMirrors, failing closed. Their caBundle is the ServingCert's to set.
 */
export function webhookConfigurations(
  opts: WebhookConfigurationOptions,
): [MutatingWebhookConfiguration, ValidatingWebhookConfiguration] {
  const webhook = (prefix: string, path: string) => ({
    name: `${prefix}.secretmirrors.${GROUP}`,
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Fail',
    timeoutSeconds: 5,
    clientConfig: { service: { ...opts.service, port: opts.service.port ?? 443, path } },
    rules: [
      {
        apiGroups: [GROUP],
        apiVersions: [VERSION],
        operations: ['CREATE', 'UPDATE'],
        resources: ['secretmirrors'],
        scope: 'Namespaced',
      },
    ],
    ...(opts.namespaceSelector ? { namespaceSelector: opts.namespaceSelector } : {}),
  });
  const metadata = { name: opts.name };
  const admissionregistration = 'admissionregistration.k8s.io/v1';
  return [
    {
      apiVersion: admissionregistration,
      kind: 'MutatingWebhookConfiguration',
      metadata,
      webhooks: [{ ...webhook('default', DEFAULTING_PATH), reinvocationPolicy: 'Never' }],
    },
    {
      apiVersion: admissionregistration,
      kind: 'ValidatingWebhookConfiguration',
      metadata,
      webhooks: [webhook('validate', VALIDATING_PATH)],
    },
  ];
}
