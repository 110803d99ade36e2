// chousei-dns-webhook's flags: the dns-operator's own provider flags (same names, same
// CHOUSEI_DNS_* variables, the same code turning them into a provider), and where to listen.
import {
  configFromFlags,
  type DnsOperatorConfig,
  ENV_PREFIX,
  FLAGS as OPERATOR_FLAGS,
} from '@chousei/dns-operator';
import { ConfigError, type FlagSpec, Flags, flagsHelp } from '@chousei/runtime';

export const NAME = 'chousei-dns-webhook';

const OWN_FLAGS = {
  'listen-address': {
    type: 'string',
    default: '127.0.0.1:8888',
    help: 'HOST:PORT of the webhook provider API (external-dns --webhook-provider-url); keep it on localhost in a sidecar',
  },
  'health-address': {
    type: 'string',
    default: '0.0.0.0:8080',
    help: 'HOST:PORT of /healthz and /metrics',
  },
} satisfies Record<string, FlagSpec>;

/** The operator's flags that choose and configure a provider, and what it serves. */
const SERVED = [
  'provider',
  'domain-filter',
  'exclude-domains',
  'default-ttl',
  'aws-zone-type',
  'aws-zone-tags',
  'zone-id-filter',
  'aws-endpoint',
  'aws-qps',
  'rfc2136-host',
  'rfc2136-port',
  'rfc2136-zone',
  'rfc2136-tsig-keyname',
  'rfc2136-tsig-secret',
  'rfc2136-tsig-secret-alg',
  'pdns-server',
  'pdns-api-key',
  'pdns-server-id',
  'pdns-skip-tls-verify',
  'tls-ca',
  'tls-client-cert',
  'tls-client-cert-key',
  'inmemory-zone',
  'log-level',
  'help',
] as const satisfies ReadonlyArray<keyof typeof OPERATOR_FLAGS>;

const SERVED_FLAGS: Record<string, FlagSpec> = {
  ...Object.fromEntries(SERVED.map((f) => [f, OPERATOR_FLAGS[f]])),
  provider: {
    ...OPERATOR_FLAGS.provider,
    help: 'DNS provider to serve: route53 | rfc2136 | pdns | inmemory (required)',
  },
};

/** Parsed with the operator's whole table, so its code reads them; the rest are refused. */
const FLAGS = { ...OPERATOR_FLAGS, ...OWN_FLAGS };

export interface Address {
  host: string;
  port: number;
}

export interface WebhookConfig extends DnsOperatorConfig {
  listen: Address;
  health: Address;
}

function address(flags: Flags<typeof FLAGS>, flag: keyof typeof OWN_FLAGS): Address {
  const raw = flags.str(flag) ?? '';
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(raw);
  const port = Number(m?.[2]);
  if (!m || port > 65535)
    throw new ConfigError(`${flags.where(flag)} must be HOST:PORT; got "${raw}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): WebhookConfig {
  const flags = new Flags(FLAGS, ENV_PREFIX, argv, env);
  for (const flag of Object.keys(OPERATOR_FLAGS)) {
    if (flag in SERVED_FLAGS || !flags.given(flag as keyof typeof FLAGS)) continue;
    throw new ConfigError(
      `${flags.where(flag as keyof typeof FLAGS)} is a dns-operator flag: ${NAME} serves a provider, nothing else`,
    );
  }
  const config = configFromFlags(flags, env);
  if (config.help) return config as WebhookConfig;
  if (config.provider === 'webhook')
    throw new ConfigError(
      `${flags.where('provider')}: ${NAME} serves route53, rfc2136, pdns or inmemory, not another webhook`,
    );
  return {
    ...config,
    listen: address(flags, 'listen-address'),
    health: address(flags, 'health-address'),
  };
}

export function helpText(): string {
  return flagsHelp(
    { ...SERVED_FLAGS, ...OWN_FLAGS },
    `Usage: ${NAME} --provider NAME [flags]\n\nServes a DNS provider over external-dns's webhook provider protocol.`,
    ENV_PREFIX,
  );
}
