import {
  type Policy,
  type RecordType,
  TSIG_ALGORITHMS,
  type TsigAlgorithm,
  tsigSecretProblem,
} from '@chousei/dns';
import {
  ConfigError,
  type FlagSpec,
  Flags,
  flagsHelp,
  type OperatorSettings,
  operatorFlags,
  operatorSettings,
  envName as prefixedEnvName,
} from '@chousei/runtime';
import type { CrossNamespaceClaims } from './controller/tenancy.js';
import { SOURCE_KINDS, type SourceKind } from './definitions.js';

/**
 * Every flag, its environment variable (CHOUSEI_DNS_ + upper snake case) and its help:
 * one table for parsing, validation and --help.
 */
export const FLAGS = {
  provider: {
    type: 'string',
    help: 'DNS provider: route53 | rfc2136 | pdns | webhook | inmemory (required)',
  },
  source: {
    type: 'string',
    multiple: true,
    default: ['ingress', 'service', 'dnsendpoint'],
    help: `Sources to watch: ${SOURCE_KINDS.join(', ')} (repeat or comma-separate)`,
  },
  'txt-owner-id': {
    type: 'string',
    default: 'default',
    help: "Owner id written in ownership TXT records; reuse external-dns's --txt-owner-id to take its records over",
  },
  'txt-prefix': {
    type: 'string',
    help: 'Prefix of ownership TXT names (may contain %{record_type})',
  },
  'txt-suffix': {
    type: 'string',
    help: 'Suffix of ownership TXT names (may contain %{record_type}); not with --txt-prefix',
  },
  'txt-wildcard-replacement': {
    type: 'string',
    help: 'Label replacing * in ownership TXT names of wildcard records',
  },
  policy: {
    type: 'string',
    default: 'sync',
    help: 'sync (create, update, delete) | upsert-only (no deletes) | create-only',
  },
  'managed-record-types': {
    type: 'string',
    multiple: true,
    default: ['A', 'AAAA', 'CNAME'],
    help: 'Record types managed (DNSEndpoints may also use TXT, SRV, MX when listed here)',
  },
  'domain-filter': {
    type: 'string',
    multiple: true,
    default: [],
    help: 'Manage only names and zones under these domains',
  },
  'exclude-domains': {
    type: 'string',
    multiple: true,
    default: [],
    help: 'Never manage names under these domains',
  },
  namespace: { type: 'string', help: 'Watch only this namespace (default: all)' },
  'cross-namespace-claims': {
    type: 'string',
    default: 'refuse',
    help: 'A name claimed from several namespaces: refuse (the first namespace keeps it) | merge (any namespace adds to any name, as external-dns does; unsafe in shared clusters)',
  },
  'label-filter': {
    type: 'string',
    help: 'Label selector the watched objects must match, e.g. team=web',
  },
  'annotation-filter': {
    type: 'string',
    help: 'Annotation selector the watched objects must match, e.g. dns=public',
  },
  'annotation-prefix': {
    type: 'string',
    help: "Read annotations under this prefix only, as external-dns's --annotation-prefix (e.g. internal.example.com/); default dns.chousei.dev/, then external-dns.kubernetes.io/, then external-dns.alpha.kubernetes.io/",
  },
  'ignore-ingress-tls-spec': {
    type: 'boolean',
    default: false,
    help: "Ignore the hosts of Ingresses' spec.tls (as external-dns's flag: by default they publish, as rules' hosts do)",
  },
  'ingress-class': {
    type: 'string',
    multiple: true,
    default: [],
    help: 'Only Ingresses of these classes (default: all)',
  },
  'gateway-listener-sets': {
    type: 'boolean',
    default: false,
    help: "Gateway API sources: read ListenerSets (Gateway API v1.5+ CRDs), whose listeners count as their Gateway's",
  },
  'default-ttl': {
    type: 'string',
    default: '300',
    help: 'TTL in seconds of new records without a ttl annotation (a record that exists keeps its TTL, as external-dns leaves it)',
  },
  'resync-interval': {
    type: 'string',
    default: '10m',
    help: 'Full resync interval: every zone re-read, drifted or unpublished names reconciled (e.g. 10m, 1h)',
  },
  concurrency: {
    type: 'string',
    default: '1000',
    help: 'Names reconciled at once (their changes fill provider calls)',
  },
  'aws-zone-type': { type: 'string', help: 'Route53: only public or private zones' },
  'aws-zone-tags': {
    type: 'string',
    multiple: true,
    default: [],
    help: 'Route53: only zones with these tags (key=value)',
  },
  'zone-id-filter': {
    type: 'string',
    multiple: true,
    default: [],
    help: 'Route53: only these hosted zone ids (default: every zone the credentials list)',
  },
  'aws-prefer-cname': {
    type: 'boolean',
    default: false,
    help: 'Route53: CNAMEs to AWS endpoints stay CNAMEs, instead of A and AAAA alias records (unless an alias is asked for)',
  },
  'aws-evaluate-target-health': {
    type: 'string',
    default: 'true',
    help: 'Route53: true | false: alias records evaluate the target health',
  },
  'aws-endpoint': {
    type: 'string',
    help: 'Route53: API endpoint override (also AWS_ENDPOINT_URL)',
  },
  'aws-qps': {
    type: 'string',
    default: '5',
    help: 'Route53: API requests per second, shared by the process',
  },
  'rfc2136-host': {
    type: 'string',
    multiple: true,
    default: [],
    help: 'RFC2136: DNS server host (required with --provider rfc2136; one: external-dns fails over between several, the dns-operator does not)',
  },
  'rfc2136-port': { type: 'string', default: '53', help: 'RFC2136: DNS server port' },
  'rfc2136-zone': {
    type: 'string',
    multiple: true,
    default: [],
    help: 'RFC2136: zones to manage (required with --provider rfc2136)',
  },
  'rfc2136-tsig-keyname': { type: 'string', help: 'RFC2136: TSIG key name' },
  'rfc2136-tsig-secret': {
    type: 'string',
    help: 'RFC2136: TSIG secret, base64 (prefer the environment variable)',
  },
  'rfc2136-tsig-secret-alg': {
    type: 'string',
    default: 'hmac-sha256',
    help: 'RFC2136: hmac-sha256 | hmac-sha384 | hmac-sha512; weak, with a warning: hmac-md5 | hmac-sha1 | hmac-sha224',
  },
  'pdns-server': {
    type: 'string',
    help: 'PowerDNS: URL of its webserver, e.g. http://pdns:8081 (required with --provider pdns)',
  },
  'pdns-api-key': {
    type: 'string',
    help: 'PowerDNS: API key (required with --provider pdns; prefer the environment variable)',
  },
  'pdns-server-id': {
    type: 'string',
    default: 'localhost',
    help: 'PowerDNS: server id in the API paths',
  },
  'pdns-skip-tls-verify': {
    type: 'boolean',
    default: false,
    help: 'PowerDNS: accept any certificate of an https --pdns-server (self-signed)',
  },
  'tls-ca': {
    type: 'string',
    help: 'PowerDNS: PEM file of the CA that signed the https --pdns-server certificate',
  },
  'tls-client-cert': {
    type: 'string',
    help: 'PowerDNS: PEM client certificate file for mutual TLS (with --tls-client-cert-key)',
  },
  'tls-client-cert-key': {
    type: 'string',
    help: 'PowerDNS: PEM key file of --tls-client-cert',
  },
  'webhook-provider-url': {
    type: 'string',
    default: 'http://localhost:8888',
    help: 'webhook: URL of the external-dns webhook provider (a sidecar)',
  },
  'webhook-provider-read-timeout': {
    type: 'string',
    default: '5s',
    help: 'webhook: read timeout; with the write timeout, the deadline of each request',
  },
  'webhook-provider-write-timeout': {
    type: 'string',
    default: '10s',
    help: 'webhook: write timeout; with the read timeout, the deadline of each request',
  },
  'inmemory-zone': {
    type: 'string',
    multiple: true,
    default: [],
    help: 'inmemory: zones to hold (tests and demos)',
  },
  'first-sync-delete-limit': {
    type: 'string',
    default: '10%',
    help: "Share of the records it owns a zone's first sync (and one after a change of owner id or TXT naming) may delete; more wait for a confirmation (0% to 100%; 100%: never wait)",
  },
  'dry-run': {
    type: 'boolean',
    default: false,
    help: 'Log planned changes instead of making them',
  },
  once: { type: 'boolean', default: false, help: 'Reconcile every name once, then exit' },
  ...operatorFlags('chousei-dns-operator', { metrics: 8080, health: 8081, qps: 50, burst: 100 }),
} satisfies Record<string, FlagSpec>;

type FlagName = keyof typeof FLAGS;

/** The providers --provider names. */
export const PROVIDERS = ['route53', 'rfc2136', 'pdns', 'webhook', 'inmemory'] as const;

export type ProviderName = (typeof PROVIDERS)[number];

export interface DnsOperatorConfig extends OperatorSettings {
  provider: ProviderName;
  sources: SourceKind[];
  ownerId: string;
  txtPrefix?: string;
  txtSuffix?: string;
  txtWildcardReplacement?: string;
  policy: Policy;
  managedTypes: RecordType[];
  domainFilter: string[];
  excludeDomains: string[];
  namespace?: string;
  crossNamespaceClaims: CrossNamespaceClaims;
  labelFilter?: string;
  annotationFilter?: string;
  /** external-dns's --annotation-prefix: the one prefix annotations are read under. */
  annotationPrefix?: string;
  ignoreIngressTlsSpec: boolean;
  ingressClasses: string[];
  gatewayListenerSets: boolean;
  defaultTTL: number;
  resyncIntervalMs: number;
  concurrency: number;
  route53: {
    zoneType?: 'public' | 'private';
    zoneTags: Record<string, string>;
    zoneIds: string[];
    endpoint?: string;
    qps: number;
    preferCname: boolean;
    evaluateTargetHealth: boolean;
  };
  rfc2136: {
    host?: string;
    port: number;
    zones: string[];
    tsig?: { name: string; secret: string; algorithm: TsigAlgorithm };
  };
  pdns: {
    server?: string;
    apiKey?: string;
    serverId: string;
    tls: { skipVerify: boolean; caFile?: string; certFile?: string; keyFile?: string };
  };
  webhook: { url: string; timeoutMs: number };
  inmemoryZones: string[];
  firstSync: {
    /** --first-sync-delete-limit, as a share (0..1). */
    deleteLimit: number;
    /** Where the guard's state is kept: with the Lease, when its namespace is known. */
    configMap?: { namespace: string; name: string };
  };
  dryRun: boolean;
  once: boolean;
  help: boolean;
}

export { ConfigError };

/** The configuration without a provider: what tools that only read the cluster need. */
export type DnsSourceConfig = Omit<DnsOperatorConfig, 'provider'> & { provider?: ProviderName };

/** Environment variables of the flags: CHOUSEI_DNS_ + the flag in upper snake case. */
export const ENV_PREFIX = 'CHOUSEI_DNS';

export function envName(flag: string): string {
  return prefixedEnvName(ENV_PREFIX, flag);
}

/** Parses flags, falling back to environment variables, then defaults; validates all. */
export function parseConfig(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): DnsOperatorConfig {
  return configFromFlags(new Flags(FLAGS, ENV_PREFIX, argv, env), env);
}

/**
 * The configuration from parsed flags (any Flags holding the operator's, so tools such as
 * kubectl-chousei add their own beside them); `requireProvider: false` leaves the provider
 * unset when none is given.
 */
export function configFromFlags(
  flags: Flags<typeof FLAGS>,
  env?: NodeJS.ProcessEnv,
): DnsOperatorConfig;
export function configFromFlags(
  flags: Flags<typeof FLAGS>,
  env: NodeJS.ProcessEnv,
  opts: { requireProvider: false },
): DnsSourceConfig;
export function configFromFlags(
  flags: Flags<typeof FLAGS>,
  env: NodeJS.ProcessEnv = process.env,
  opts: { requireProvider?: boolean } = {},
): DnsSourceConfig {
  const str = (f: FlagName) => flags.str(f);
  const list = (f: FlagName) => flags.list(f);
  const bool = (f: FlagName) => flags.bool(f);
  const where = (f: FlagName) => flags.where(f);
  const oneOf = <T extends string>(f: FlagName, allowed: readonly T[]) => flags.oneOf(f, allowed);
  const int = (f: FlagName, min: number, max: number) => flags.int(f, min, max);
  const duration = (f: FlagName) => flags.duration(f);

  const help = bool('help');
  if (help) return { help } as DnsOperatorConfig;
  const provider =
    opts.requireProvider === false && str('provider') === undefined
      ? undefined
      : oneOf('provider', PROVIDERS);
  const sources = list('source');
  for (const s of sources) {
    if (!(SOURCE_KINDS as readonly string[]).includes(s))
      throw new ConfigError(
        `${where('source')}: unknown source "${s}" (${SOURCE_KINDS.join(', ')})`,
      );
  }
  const types = list('managed-record-types').map((t) => t.toUpperCase());
  for (const t of types) {
    if (!['A', 'AAAA', 'CNAME', 'TXT', 'SRV', 'MX'].includes(t))
      throw new ConfigError(`${where('managed-record-types')}: unsupported type "${t}"`);
  }
  const pdns = pdnsConfig(flags, provider === 'pdns');
  const txtPrefix = str('txt-prefix');
  const txtSuffix = str('txt-suffix');
  if (txtPrefix && txtSuffix)
    throw new ConfigError(
      `${where('txt-prefix')} and ${where('txt-suffix')} exclude each other (as in external-dns)`,
    );
  const annotationPrefix = str('annotation-prefix');
  if (annotationPrefix !== undefined && !/^[a-z0-9.-]+\/$/.test(annotationPrefix))
    throw new ConfigError(
      `${where('annotation-prefix')} must be a domain followed by a slash, e.g. internal.example.com/; got "${annotationPrefix}"`,
    );
  const ownerId = str('txt-owner-id') ?? '';
  if (!ownerId || /[,=\s"]/.test(ownerId))
    throw new ConfigError(
      `${where('txt-owner-id')} must be non-empty without commas, '=', quotes or spaces`,
    );

  const optional = <K extends string>(key: K, v: string | undefined) =>
    v ? ({ [key]: v } as Record<K, string>) : {};
  return {
    ...(provider ? { provider } : {}),
    sources: sources as SourceKind[],
    ownerId,
    ...optional('txtPrefix', txtPrefix),
    ...optional('txtSuffix', txtSuffix),
    ...optional('txtWildcardReplacement', str('txt-wildcard-replacement')),
    policy: oneOf('policy', ['sync', 'upsert-only', 'create-only'] as const),
    managedTypes: types as RecordType[],
    domainFilter: list('domain-filter').map((d) => d.toLowerCase().replace(/\.$/, '')),
    excludeDomains: list('exclude-domains').map((d) => d.toLowerCase().replace(/\.$/, '')),
    ...optional('namespace', str('namespace')),
    crossNamespaceClaims: oneOf('cross-namespace-claims', ['refuse', 'merge'] as const),
    ...optional('labelFilter', str('label-filter')),
    ...optional('annotationFilter', str('annotation-filter')),
    ...optional('annotationPrefix', annotationPrefix),
    ignoreIngressTlsSpec: bool('ignore-ingress-tls-spec'),
    ingressClasses: list('ingress-class'),
    gatewayListenerSets: bool('gateway-listener-sets'),
    defaultTTL: int('default-ttl', 1, 2_147_483_647),
    resyncIntervalMs: duration('resync-interval'),
    concurrency: int('concurrency', 1, 10_000),
    route53: route53Config(flags),
    rfc2136: rfc2136Config(flags, provider === 'rfc2136'),
    pdns,
    webhook: webhookConfig(flags),
    inmemoryZones: list('inmemory-zone').map((z) => z.toLowerCase().replace(/\.$/, '')),
    firstSync: firstSyncConfig(flags, env),
    dryRun: bool('dry-run'),
    once: bool('once'),
    ...operatorSettings(flags, env),
    help: false,
  };
}

/**
 * The first-sync guard's limit, and its ConfigMap `<leader-election-id>-first-sync` in the
 * Lease's namespace when that is known (POD_NAMESPACE, as the chart sets it, or the flag);
 * else its state lasts as long as the process.
 */
function firstSyncConfig(
  flags: Flags<typeof FLAGS>,
  env: NodeJS.ProcessEnv,
): DnsOperatorConfig['firstSync'] {
  const raw = flags.str('first-sync-delete-limit') ?? '';
  const percent = /^(\d{1,3})%$/.exec(raw);
  if (!percent || Number(percent[1]) > 100)
    throw new ConfigError(
      `${flags.where('first-sync-delete-limit')} must be a percentage from 0% to 100%; got "${raw}"`,
    );
  const namespace = flags.str('leader-election-namespace') ?? env.POD_NAMESPACE;
  const name = `${flags.str('leader-election-id')}-first-sync`;
  return {
    deleteLimit: Number(percent[1]) / 100,
    ...(namespace ? { configMap: { namespace, name } } : {}),
  };
}

/** Route53 settings: zone filters, endpoint, rate, and how aliases are made. */
function route53Config(flags: Flags<typeof FLAGS>): DnsOperatorConfig['route53'] {
  const zoneType = flags.str('aws-zone-type');
  if (zoneType !== undefined && zoneType !== 'public' && zoneType !== 'private')
    throw new ConfigError(`${flags.where('aws-zone-type')} must be public or private`);
  const zoneTags: Record<string, string> = {};
  for (const kv of flags.list('aws-zone-tags')) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new ConfigError(`${flags.where('aws-zone-tags')}: "${kv}" is not key=value`);
    zoneTags[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const endpoint = flags.str('aws-endpoint');
  return {
    ...(zoneType ? { zoneType } : {}),
    zoneTags,
    zoneIds: flags.list('zone-id-filter'),
    ...(endpoint ? { endpoint } : {}),
    qps: flags.int('aws-qps', 1, 100),
    preferCname: flags.bool('aws-prefer-cname'),
    evaluateTargetHealth: flags.oneOf('aws-evaluate-target-health', ['true', 'false']) === 'true',
  };
}

/** RFC2136 settings: server and zones required when it is the provider. */
function rfc2136Config(
  flags: Flags<typeof FLAGS>,
  required: boolean,
): DnsOperatorConfig['rfc2136'] {
  const where = (f: FlagName) => flags.where(f);
  const zones = flags.list('rfc2136-zone').map((z) => z.toLowerCase().replace(/\.$/, ''));
  const hosts = flags.list('rfc2136-host');
  if (hosts.length > 1)
    throw new ConfigError(
      `${where('rfc2136-host')} is given ${hosts.length} times: the dns-operator sends to one server (external-dns fails over between several); give the primary`,
    );
  const host = hosts[0];
  if (required && !host)
    throw new ConfigError(`${where('rfc2136-host')} is required with --provider rfc2136`);
  if (required && !zones.length)
    throw new ConfigError(`${where('rfc2136-zone')} is required with --provider rfc2136`);
  const keyName = flags.str('rfc2136-tsig-keyname');
  const secret = flags.str('rfc2136-tsig-secret');
  // Given but blank (an empty variable from a missing Secret key) is not "unsigned".
  if (flags.given('rfc2136-tsig-keyname') && !keyName?.trim())
    throw new ConfigError(`${where('rfc2136-tsig-keyname')} is set but blank`);
  const secretProblem = flags.given('rfc2136-tsig-secret') && tsigSecretProblem(secret ?? '');
  if (secretProblem) throw new ConfigError(`${where('rfc2136-tsig-secret')} ${secretProblem}`);
  if (!!keyName !== !!secret)
    throw new ConfigError(
      `${where('rfc2136-tsig-keyname')} and ${where('rfc2136-tsig-secret')} go together`,
    );
  const algorithm = flags.oneOf('rfc2136-tsig-secret-alg', TSIG_ALGORITHMS);
  return {
    ...(host ? { host } : {}),
    port: flags.int('rfc2136-port', 1, 65535),
    zones,
    ...(keyName && secret ? { tsig: { name: keyName, secret, algorithm } } : {}),
  };
}

/** PowerDNS settings: server and key required when it is the provider. */
function pdnsConfig(flags: Flags<typeof FLAGS>, required: boolean): DnsOperatorConfig['pdns'] {
  const server = flags.str('pdns-server');
  const apiKey = flags.str('pdns-api-key');
  if (required && !server)
    throw new ConfigError(`${flags.where('pdns-server')} is required with --provider pdns`);
  if (server && !/^https?:\/\/[^/]/.test(server))
    throw new ConfigError(`${flags.where('pdns-server')} must be an http:// or https:// URL`);
  if (required && !apiKey)
    throw new ConfigError(`${flags.where('pdns-api-key')} is required with --provider pdns`);
  const certFile = flags.str('tls-client-cert');
  const keyFile = flags.str('tls-client-cert-key');
  if (!!certFile !== !!keyFile)
    throw new ConfigError(
      `${flags.where('tls-client-cert')} and ${flags.where('tls-client-cert-key')} go together`,
    );
  const caFile = flags.str('tls-ca');
  return {
    ...(server ? { server } : {}),
    ...(apiKey ? { apiKey } : {}),
    serverId: flags.str('pdns-server-id') ?? 'localhost',
    tls: {
      skipVerify: flags.bool('pdns-skip-tls-verify'),
      ...(caFile ? { caFile } : {}),
      ...(certFile && keyFile ? { certFile, keyFile } : {}),
    },
  };
}

/** The webhook provider's URL and request deadline (read + write, as external-dns). */
function webhookConfig(flags: Flags<typeof FLAGS>): DnsOperatorConfig['webhook'] {
  const url = flags.str('webhook-provider-url') ?? '';
  if (!/^https?:\/\/[^/]/.test(url))
    throw new ConfigError(
      `${flags.where('webhook-provider-url')} must be an http:// or https:// URL`,
    );
  return {
    url,
    timeoutMs:
      flags.duration('webhook-provider-read-timeout') +
      flags.duration('webhook-provider-write-timeout'),
  };
}

/** --help text, generated from the flag table. */
export function helpText(): string {
  return flagsHelp(FLAGS, 'Usage: chousei-dns-operator --provider NAME [flags]', ENV_PREFIX);
}
