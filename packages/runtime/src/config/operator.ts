import { isIP } from 'node:net';
import type { OwnerReference } from '../client/types.js';
import { KubeconfigError } from '../kubeconfig/access.js';
import { loadKubeConfig } from '../kubeconfig/load.js';
import { createLogger, type Logger } from '../log/logger.js';
import { Manager, type ManagerOptions } from '../manager/manager.js';
import { ConfigError, type Flags, type operatorFlags } from './flags.js';

/** What the flags of operatorFlags() set, as every operator's configuration carries it. */
export interface OperatorSettings {
  kubeApi: { qps: number; burst: number };
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  /**
   * The Pod this replica runs in (POD_NAME and POD_UID, from the downward API), when the
   * Lease is in its namespace: it owns the Lease while it leads.
   */
  leaderElectionOwner?: OwnerReference;
  metricsPort: number;
  healthPort: number;
  /** The IP address every server of the operator listens on. */
  bindAddress: string;
  /** --graceful-shutdown-timeout: how long a shutdown may take in all. */
  gracefulShutdownTimeoutMs: number;
  kubeconfig?: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

/** Reads the operatorFlags() flags; the Lease's namespace defaults to the pod's. */
export function operatorSettings(
  flags: Flags<ReturnType<typeof operatorFlags>>,
  env: NodeJS.ProcessEnv = process.env,
): OperatorSettings {
  const kubeconfig = flags.str('kubeconfig');
  const bindAddress = flags.str('bind-address') ?? '';
  if (!isIP(bindAddress)) {
    throw new ConfigError(
      `${flags.where('bind-address')} must be an IP address, such as 127.0.0.1; got "${bindAddress}"`,
    );
  }
  const leaderElectionNamespace =
    flags.str('leader-election-namespace') ?? env.POD_NAMESPACE ?? 'default';
  // An owner in another namespace is no owner: the garbage collector would delete the Lease.
  const owner =
    env.POD_NAME && env.POD_UID && env.POD_NAMESPACE === leaderElectionNamespace
      ? { apiVersion: 'v1', kind: 'Pod', name: env.POD_NAME, uid: env.POD_UID }
      : undefined;
  return {
    kubeApi: {
      qps: flags.int('kube-api-qps', 1, 10_000),
      burst: flags.int('kube-api-burst', 1, 10_000),
    },
    leaderElect: flags.bool('leader-elect'),
    leaderElectionNamespace,
    // operatorFlags() gives it the operator's name as default.
    leaderElectionId: flags.str('leader-election-id') ?? '',
    ...(owner ? { leaderElectionOwner: owner } : {}),
    metricsPort: flags.int('metrics-port', 0, 65535),
    healthPort: flags.int('health-port', 0, 65535),
    bindAddress,
    gracefulShutdownTimeoutMs: flags.duration('graceful-shutdown-timeout'),
    ...(kubeconfig ? { kubeconfig } : {}),
    logLevel: flags.oneOf('log-level', ['debug', 'info', 'warn', 'error'] as const),
  };
}

/**
 * A manager as the settings describe it: the API server from `--kubeconfig` or as
 * `loadKubeConfig` finds it, client limits, probe and metrics ports and their address,
 * leader election when asked for; `overrides` win (e.g. no probes for a one-shot run).
 */
export function managerFor(
  settings: OperatorSettings,
  logger: Logger,
  overrides: Partial<ManagerOptions> = {},
): Manager {
  return new Manager({
    // Not client-node's KubeConfig: importing it costs an operator ~95 MB of memory.
    kubeConfig: loadKubeConfig(settings.kubeconfig),
    logger,
    qps: settings.kubeApi.qps,
    burst: settings.kubeApi.burst,
    healthProbePort: settings.healthPort,
    metricsPort: settings.metricsPort,
    bindAddress: settings.bindAddress,
    gracefulShutdownTimeoutMs: settings.gracefulShutdownTimeoutMs,
    ...(settings.leaderElect
      ? {
          leaderElection: {
            name: settings.leaderElectionId,
            namespace: settings.leaderElectionNamespace,
            ...(settings.leaderElectionOwner ? { owner: settings.leaderElectionOwner } : {}),
          },
        }
      : {}),
    ...overrides,
  });
}

export interface OperatorCommand<C> {
  /** The binary's name, for messages and the logger. */
  name: string;
  /** Parses and validates argv (and the environment); throws ConfigError naming the flag. */
  parse(argv: string[]): C & { help: boolean };
  help(): string;
  /** Runs the operator; resolves with the exit code. */
  run(config: C, logger: Logger): Promise<number>;
}

/**
 * The entry point of an operator binary: invalid configuration (flags or kubeconfig) exits
 * 2 with the message, `--help` prints the flags, any other error exits 1 with its stack.
 */
export async function runOperator<C extends OperatorSettings>(
  cmd: OperatorCommand<C>,
  argv: string[] = process.argv.slice(2),
): Promise<number> {
  try {
    const config = cmd.parse(argv);
    if (config.help) {
      process.stdout.write(cmd.help());
      return 0;
    }
    return await cmd.run(config, createLogger({ level: config.logLevel, name: cmd.name }));
  } catch (err) {
    if (err instanceof ConfigError || err instanceof KubeconfigError) {
      process.stderr.write(`${cmd.name}: invalid configuration: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(
      `${cmd.name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return 1;
  }
}
