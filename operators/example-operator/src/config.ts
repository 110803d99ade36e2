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
  // The flags every operator shares: leader election, ports, kubeconfig, API limits, logs.
  ...operatorFlags('chousei-example-operator', { metrics: 8080, health: 8081, qps: 20, burst: 30 }),
} satisfies Record<string, FlagSpec>;

/** This operator's own settings beside the shared ones. */
export interface OperatorConfig extends OperatorSettings {
  concurrency: number;
  help: boolean;
}

export { ConfigError };

/** Parses flags, falling back to environment variables, then defaults; validates all. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const flags = new Flags(FLAGS, ENV_PREFIX, argv, env);
  return {
    concurrency: flags.int('concurrency', 1, 100),
    // The Deployment sets POD_NAMESPACE: the Lease lives beside the pods.
    ...operatorSettings(flags, env),
    help: flags.bool('help'),
  };
}

/** --help text, generated from the flag table. */
export function helpText(): string {
  return flagsHelp(FLAGS, 'Usage: chousei-example-operator [flags]', ENV_PREFIX);
}
