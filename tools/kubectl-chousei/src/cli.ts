// What every command shares: the kubectl-like flags, operands, errors and the cluster client.
import {
  ApiError,
  Client,
  type ClusterAccess,
  ConfigError,
  type FlagSpec,
  Flags,
  flagsHelp,
  isNotFound,
  loadKubeConfig,
} from '@chousei/runtime';

/** Flags kubectl users expect on every command (kubectl keeps its own to itself). */
export const KUBE_FLAGS = {
  kubeconfig: {
    type: 'string',
    help: 'Kubeconfig file (default: the KUBECONFIG files merged, then ~/.kube/config)',
  },
  context: { type: 'string', help: 'Kubeconfig context (default: the current context)' },
  namespace: {
    type: 'string',
    short: 'n',
    help: "Namespace (default: the context's namespace, else default)",
  },
  output: {
    type: 'string',
    short: 'o',
    help: 'Output format: json (default: text for people)',
  },
  help: { type: 'boolean', short: 'h', default: false, help: 'Show this help' },
} satisfies Record<string, FlagSpec>;

/** A failure to report in one line, without a stack: exit code 1 (2 for usage errors). */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** One subcommand, e.g. `certs status`. */
export interface Command {
  /** `certs status` */
  name: string;
  summary: string;
  run(argv: string[], env: NodeJS.ProcessEnv): Promise<number>;
}

export interface ParsedCommand<F extends Record<string, FlagSpec>> {
  flags: Flags<F>;
  operands: string[];
  json: boolean;
  /** --help was asked for and printed: the command has nothing else to do. */
  helped: boolean;
}

/**
 * Parses a command's flags (with operands), answers --help, checks the operand count and
 * the output format. `usage` opens the help text: the synopsis, then what the command does.
 */
export function parseCommand<F extends Record<string, FlagSpec> & typeof KUBE_FLAGS>(
  specs: F,
  envPrefix: string,
  argv: string[],
  env: NodeJS.ProcessEnv,
  usage: string,
  operands: { min: number; max: number; names: string },
): ParsedCommand<F> {
  const flags = new Flags(specs, envPrefix, argv, env, { positionals: true });
  if (flags.bool('help')) {
    process.stdout.write(flagsHelp(specs, usage, envPrefix));
    return { flags, operands: [], json: false, helped: true };
  }
  const given = flags.positionals;
  if (given.length < operands.min || given.length > operands.max) {
    const want =
      operands.min === operands.max ? `${operands.min}` : `${operands.min} to ${operands.max}`;
    throw new ConfigError(
      `expects ${want} operand${operands.max === 1 ? '' : 's'} (${operands.names}), got ${given.length}${given.length ? `: ${given.join(' ')}` : ''} (see --help)`,
    );
  }
  const output = flags.str('output');
  if (output !== undefined && output !== 'json') {
    throw new ConfigError(`${flags.where('output')} must be json; got "${output}"`);
  }
  return { flags, operands: given, json: output === 'json', helped: false };
}

export interface Kube {
  client: Client;
  /** The runtime's own loading, as the operators have it: merged $KUBECONFIG, proxy-url. */
  kubeConfig: ClusterAccess;
  /** -n, else the context's namespace, else default. */
  namespace: string;
}

/** The cluster the flags name, as kubectl would pick it. */
export function connect(
  flags: Flags<Pick<typeof KUBE_FLAGS, 'kubeconfig' | 'context' | 'namespace'>>,
): Kube {
  const context = flags.str('context');
  let kubeConfig: ReturnType<typeof loadKubeConfig>;
  try {
    kubeConfig = loadKubeConfig(flags.str('kubeconfig'), context ? { context } : {});
  } catch (err) {
    throw new CliError(`cannot load the kubeconfig: ${(err as Error).message}`);
  }
  return {
    kubeConfig,
    namespace: flags.str('namespace') ?? kubeConfig.namespace ?? 'default',
    client: new Client(kubeConfig, { userAgent: 'kubectl-chousei', requestTimeoutMs: 30_000 }),
  };
}

/**
 * Rethrows an API error as one line a person can act on: what was missing, not the URL.
 * `what` names the object (`certificate default/web`).
 */
export function explain(err: unknown, what: string): never {
  if (isNotFound(err)) {
    // A 404 for a whole kind (no CRD) reads "the server could not find the requested resource".
    const kindMissing = err instanceof ApiError && !err.status.details?.name;
    throw new CliError(
      kindMissing
        ? `${what}: the API server does not serve this kind (are the operator's CRDs installed?)`
        : `${what} not found`,
    );
  }
  if (err instanceof ApiError) throw new CliError(`${what}: ${err.status.message ?? err.message}`);
  throw err;
}

/** Prints a JSON document (with a final newline). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
