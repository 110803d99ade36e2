import { ConfigError, type FlagSpec, Flags, flagsHelp, operatorFlags } from '@chousei/runtime';

/** Environment variables of the flags: CHOUSEI_EXAMPLE_ + the flag in upper snake case. */
export const ENV_PREFIX = 'CHOUSEI_EXAMPLE';

/** Every flag, its environment variable and its help: one table for parsing and --help. */
export const FLAGS = {
  concurrency: { type: 'string', default: '4', help: 'SecretMirrors reconciled at once' },
  // The flags every operator shares: leader election, ports, kubeconfig, API limits, logs.
  ...operatorFlags('chousei-example-operator', { metrics: 8080, health: 8081, qps: 20, burst: 30 }),
} satisfies Record<string, FlagSpec>;

export interface OperatorConfig {
  concurrency: number;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  metricsPort: number;
  healthPort: number;
  kubeApi: { qps: number; burst: number };
  kubeconfig?: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  help: boolean;
}

export { ConfigError };

/** Parses flags, falling back to environment variables, then defaults; validates all. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const flags = new Flags(FLAGS, ENV_PREFIX, argv, env);
  const kubeconfig = flags.str('kubeconfig');
  return {
    concurrency: flags.int('concurrency', 1, 100),
    leaderElect: flags.bool('leader-elect'),
    // The Deployment sets POD_NAMESPACE: the Lease lives beside the pods.
    leaderElectionNamespace:
      flags.str('leader-election-namespace') ?? env.POD_NAMESPACE ?? 'default',
    leaderElectionId: flags.str('leader-election-id') ?? 'chousei-example-operator',
    metricsPort: flags.int('metrics-port', 0, 65535),
    healthPort: flags.int('health-port', 0, 65535),
    kubeApi: {
      qps: flags.int('kube-api-qps', 1, 10_000),
      burst: flags.int('kube-api-burst', 1, 10_000),
    },
    ...(kubeconfig ? { kubeconfig } : {}),
    logLevel: flags.oneOf('log-level', ['debug', 'info', 'warn', 'error'] as const),
    help: flags.bool('help'),
  };
}

/** --help text, generated from the flag table. */
export function helpText(): string {
  return flagsHelp(FLAGS, 'Usage: chousei-example-operator [flags]', ENV_PREFIX);
}
