import {
  ConfigError,
  type FlagSpec,
  Flags,
  flagsHelp,
  type OperatorSettings,
  operatorFlags,
  operatorSettings,
} from '@chousei/runtime';

/** Environment variables of the flags: CHOUSEI_EXAMPLE_ + the flag in upper snake case. */
export const ENV_PREFIX = 'CHOUSEI_EXAMPLE';

/** Every flag, its environment variable and its help: one table for parsing and --help. */
export const FLAGS = {
  concurrency: { type: 'string', default: '4', help: 'SecretMirrors reconciled at once' },
  'webhook-service': {
    type: 'string',
    help: 'Service (in the namespace of POD_NAMESPACE) in front of the admission webhooks: serves them, with a certificate for NAME.NAMESPACE.svc kept in the Secret NAME-tls. Unset: no webhooks',
  },
  'webhook-configuration': {
    type: 'string',
    help: 'Mutating- and ValidatingWebhookConfiguration (one name) whose caBundle the operator keeps; needs --webhook-service',
  },
  'webhook-port': {
    type: 'string',
    default: '9443',
    help: 'Port of the admission webhook server (with --webhook-service)',
  },
  // The flags every operator shares: leader election, ports, kubeconfig, API limits, logs.
  ...operatorFlags('chousei-example-operator', { metrics: 8080, health: 8081, qps: 20, burst: 30 }),
} satisfies Record<string, FlagSpec>;

/** This operator's own settings beside the shared ones. */
export interface OperatorConfig extends OperatorSettings {
  concurrency: number;
  /** The admission webhooks, when --webhook-service is given. */
  webhook?: WebhookConfig;
  help: boolean;
}

export interface WebhookConfig {
  port: number;
  serviceName: string;
  /** Where the Service and the Secret of the serving pair are: the pod's namespace. */
  namespace: string;
  configurationName: string;
}

export { ConfigError };

/** Parses flags, falling back to environment variables, then defaults; validates all. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const flags = new Flags(FLAGS, ENV_PREFIX, argv, env);
  const webhook = webhookConfig(flags, env);
  return {
    concurrency: flags.int('concurrency', 1, 100),
    ...(webhook ? { webhook } : {}),
    // The Deployment sets POD_NAMESPACE: the Lease lives beside the pods.
    ...operatorSettings(flags, env),
    help: flags.bool('help'),
  };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function webhookConfig(
  flags: Flags<typeof FLAGS>,
  env: NodeJS.ProcessEnv,
): WebhookConfig | undefined {
  const serviceName = flags.str('webhook-service');
  const configurationName = flags.str('webhook-configuration');
  if (serviceName === undefined) {
    if (configurationName === undefined) return undefined;
    throw new ConfigError(
      `${flags.where('webhook-configuration')} needs ${flags.where('webhook-service')}`,
    );
  }
  if (!DNS_LABEL.test(serviceName)) {
    throw new ConfigError(
      `${flags.where('webhook-service')} must be a Service name (a DNS label); got "${serviceName}"`,
    );
  }
  if (configurationName === undefined) {
    throw new ConfigError(
      `${flags.where('webhook-service')} needs ${flags.where('webhook-configuration')}`,
    );
  }
  return {
    port: flags.int('webhook-port', 1, 65535),
    serviceName,
    namespace: env.POD_NAMESPACE ?? 'default',
    configurationName,
  };
}

/** --help text, generated from the flag table. */
export function helpText(): string {
  return flagsHelp(FLAGS, 'Usage: chousei-example-operator [flags]', ENV_PREFIX);
}
