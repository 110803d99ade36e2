import { parseArgs } from 'node:util';

/** One command-line flag: its type, default and help. */
export interface FlagSpec {
  type: 'string' | 'boolean';
  /** Repeatable and comma-separated. */
  multiple?: boolean;
  default?: string | boolean | string[];
  help: string;
  /** One-letter alias, e.g. `n` for `-n` (kubectl plugins mirror kubectl's). */
  short?: string;
}

export interface FlagsOptions {
  /** Accept arguments that are not flags (command operands), read from `positionals`. */
  positionals?: boolean;
}

/** Invalid configuration: one message naming the flag, its variable and what is wrong. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const DURATION = /^(\d+)(ms|s|m|h)?$/;
const UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Flags read from the command line, then from environment variables (`PREFIX_` + the flag
 * in upper snake case), then defaults; typed getters that fail with a ConfigError naming
 * the flag and its variable. One flag table serves parsing, validation and `--help`.
 */
export class Flags<F extends Record<string, FlagSpec>> {
  private readonly values: Partial<Record<keyof F, string | boolean | string[]>>;
  /** The arguments that are not flags, in order (empty unless `positionals` was asked for). */
  readonly positionals: string[];

  constructor(
    private readonly specs: F,
    private readonly envPrefix: string,
    argv: string[],
    private readonly env: NodeJS.ProcessEnv = process.env,
    opts: FlagsOptions = {},
  ) {
    const options = Object.fromEntries(
      Object.entries(specs).map(([k, v]) => [
        k,
        {
          type: v.type,
          ...(v.multiple ? { multiple: true } : {}),
          ...(v.short ? { short: v.short } : {}),
        },
      ]),
    );
    refuseUnknownShortGroups(argv, specs);
    try {
      const parsed = parseArgs({
        args: argv,
        options,
        strict: true,
        allowPositionals: opts.positionals ?? false,
      });
      this.values = parsed.values as typeof this.values;
      this.positionals = parsed.positionals;
    } catch (err) {
      throw new ConfigError(`${(err as Error).message} (see --help)`);
    }
  }

  envName(flag: keyof F & string): string {
    return envName(this.envPrefix, flag);
  }

  /** `--flag (PREFIX_FLAG)`, for messages. */
  where(flag: keyof F & string): string {
    return `--${flag} (${this.envName(flag)})`;
  }

  private get(flag: keyof F & string): string | boolean | string[] | undefined {
    const spec = this.specs[flag]!;
    const split = (s: string) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
    const v = this.values[flag];
    if (v !== undefined) return spec.multiple ? (v as string[]).flatMap(split) : v;
    const e = this.env[this.envName(flag)];
    if (e !== undefined) {
      if (spec.type === 'boolean') return e === 'true' || e === '1';
      return spec.multiple ? split(e) : e;
    }
    return spec.default;
  }

  /** Whether the flag was given, on the command line or by its variable, not defaulted. */
  given(flag: keyof F & string): boolean {
    return this.values[flag] !== undefined || this.env[this.envName(flag)] !== undefined;
  }

  str(flag: keyof F & string): string | undefined {
    return this.get(flag) as string | undefined;
  }

  list(flag: keyof F & string): string[] {
    return (this.get(flag) as string[] | undefined) ?? [];
  }

  bool(flag: keyof F & string): boolean {
    return this.get(flag) === true;
  }

  oneOf<T extends string>(flag: keyof F & string, allowed: readonly T[]): T {
    const v = this.str(flag);
    if (!v || !allowed.includes(v as T)) {
      throw new ConfigError(
        `${this.where(flag)} must be one of ${allowed.join(', ')}; got "${v ?? ''}"`,
      );
    }
    return v as T;
  }

  int(flag: keyof F & string, min: number, max: number): number {
    const raw = this.str(flag) ?? '';
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min || n > max) {
      throw new ConfigError(
        `${this.where(flag)} must be an integer from ${min} to ${max}; got "${raw}"`,
      );
    }
    return n;
  }

  /** Milliseconds of a duration such as 30s, 10m, 1h. */
  duration(flag: keyof F & string): number {
    const raw = this.str(flag) ?? '';
    const m = DURATION.exec(raw);
    if (!m || Number(m[1]) === 0) {
      throw new ConfigError(
        `${this.where(flag)} must be a duration such as 30s, 10m or 1h; got "${raw}"`,
      );
    }
    return Number(m[1]) * UNIT[m[2] ?? 's']!;
  }
}

/**
 * parseArgs expands a group of short flags (`-abc`) into an argument per letter before it
 * finds one it does not know: a 128 KiB argument of `-x-x-x...` cost it over 100 ms. Refused
 * here first, in linear time, as strict parsing would refuse it anyway.
 */
function refuseUnknownShortGroups(argv: readonly string[], specs: Record<string, FlagSpec>): void {
  const shorts = new Map(
    Object.values(specs).flatMap((s) => (s.short ? [[s.short, s.type] as const] : [])),
  );
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return;
    if (arg.startsWith('--')) {
      // `--zone --` gives `--` to --zone (parseArgs then refuses it as ambiguous, after
      // expanding the groups behind it): what follows is still flags.
      if (!arg.includes('=') && specs[arg.slice(2)]?.type === 'string') i++;
      continue;
    }
    if (arg.length < 2 || arg[0] !== '-') continue;
    if (arg.length === 2) {
      if (shorts.get(arg[1]!) === 'string') i++;
      continue;
    }
    for (const letter of arg.slice(1)) {
      const type = shorts.get(letter);
      if (type === undefined) throw new ConfigError(`Unknown option '-${letter}' (see --help)`);
      // The rest of the group is its value.
      if (type === 'string') break;
    }
  }
}

export function envName(prefix: string, flag: string): string {
  return `${prefix}_${flag.replace(/-/g, '_').toUpperCase()}`;
}

/** `--help` text from a flag table. */
export function flagsHelp(
  specs: Record<string, FlagSpec>,
  usage: string,
  envPrefix: string,
): string {
  const lines = [usage, '', 'Every flag can also be set by its environment variable.', ''];
  for (const [flag, spec] of Object.entries(specs)) {
    const d = spec.default;
    const def =
      d === undefined || (Array.isArray(d) && !d.length)
        ? ''
        : ` (default ${Array.isArray(d) ? d.join(',') : d})`;
    lines.push(
      `  ${spec.short ? `-${spec.short}, ` : ''}--${flag}${spec.type === 'string' ? ' VALUE' : ''}${spec.multiple ? ' ...' : ''}`,
    );
    lines.push(`      ${spec.help}${def}  [${envName(envPrefix, flag)}]`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The flags every operator built on the runtime shares: leader election, probe and
 * metrics ports and their address, kubeconfig, log level, help. Spread into an
 * operator's own table.
 */
export function operatorFlags(
  name: string,
  defaults: { metrics: number; health: number; qps: number; burst: number },
) {
  return {
    'kube-api-qps': {
      type: 'string',
      default: String(defaults.qps),
      help: 'Requests per second to the Kubernetes API (client-side limit)',
    },
    'kube-api-burst': {
      type: 'string',
      default: String(defaults.burst),
      help: 'Burst above --kube-api-qps',
    },
    'leader-elect': {
      type: 'boolean',
      default: false,
      help: 'Run controllers only while holding the leader Lease (for 2+ replicas)',
    },
    'leader-election-namespace': {
      type: 'string',
      help: 'Namespace of the leader Lease (default: POD_NAMESPACE or default)',
    },
    'leader-election-id': { type: 'string', default: name, help: 'Name of the leader Lease' },
    'metrics-port': {
      type: 'string',
      default: String(defaults.metrics),
      help: 'Port of /metrics (0: any free port)',
    },
    'health-port': {
      type: 'string',
      default: String(defaults.health),
      help: 'Port of /healthz and /readyz',
    },
    'bind-address': {
      type: 'string',
      default: '0.0.0.0',
      help: 'Address the probe, metrics and other servers listen on',
    },
    'graceful-shutdown-timeout': {
      type: 'string',
      default: '30s',
      help: "Longest shutdown after SIGTERM, in-flight work included; keep it within the pod's terminationGracePeriodSeconds",
    },
    kubeconfig: {
      type: 'string',
      help: 'Kubeconfig file (default: KUBECONFIG, ~/.kube/config, or in-cluster)',
    },
    'log-level': { type: 'string', default: 'info', help: 'debug | info | warn | error' },
    help: { type: 'boolean', default: false, help: 'Show this help' },
  } satisfies Record<string, FlagSpec>;
}
