import { isIP } from 'node:net';
import {
  ConfigError,
  type FlagSpec,
  Flags,
  flagsHelp,
  type OperatorSettings,
  operatorFlags,
  operatorSettings,
} from '@chousei/runtime';
import type { IssuerRef } from './api/types.js';
import type { SolverService } from './solvers/http01/routed.js';
import { type Nameserver, parseNameserver } from './solvers/resolver.js';

/** Every flag of chousei-cert-operator, its environment variable and help. */
export const FLAGS = {
  namespace: {
    type: 'string',
    help: 'Serve only this namespace (default: all); ClusterIssuers are then not served, and the cluster resource namespace is this one',
  },
  'cluster-resource-namespace': {
    type: 'string',
    help: 'Namespace of the Secrets ClusterIssuers reference (default: POD_NAMESPACE or cert-operator)',
  },
  'default-issuer-name': {
    type: 'string',
    help: 'Issuer for Ingresses annotated kubernetes.io/tls-acme: "true"',
  },
  'default-issuer-kind': {
    type: 'string',
    default: 'Issuer',
    help: "Issuer or ClusterIssuer (as cert-manager's, default Issuer; with --namespace: Issuer)",
  },
  'enable-gateway-api': {
    type: 'boolean',
    default: false,
    help: 'Read Gateway API (its CRDs must be installed): the Gateway shim, and gatewayHTTPRoute HTTP-01 solvers',
  },
  'enable-gateway-api-listenerset': {
    type: 'boolean',
    default: false,
    help: 'With --enable-gateway-api: the ListenerSet shim too (Gateway API v1.5+ CRDs)',
  },
  'http01-solver-service': {
    type: 'string',
    help: 'In a cluster: NAME:PORT of the Service (in the cluster resource namespace) reaching the challenge server; temporary Ingresses route challenges to it',
  },
  'http01-solver-port': {
    type: 'string',
    default: '8089',
    help: 'Port the HTTP-01 challenge server listens on',
  },
  'http01-self-check-nameservers': {
    type: 'string',
    multiple: true,
    help: 'IP[:PORT] of DNS servers the HTTP-01 self-check resolves challenged names with, instead of the system resolver (split-horizon DNS)',
  },
  'dns01-recursive-nameservers': {
    type: 'string',
    multiple: true,
    help: 'IP[:PORT] of DNS servers that DNS-01 solvers with cnameStrategy Follow look CNAMEs up with, instead of the system resolver',
  },
  'http01-self-check-port': {
    type: 'string',
    default: '80',
    help: 'Port the HTTP-01 self-check fetches challenge URLs on: where the CA connects',
  },
  'http01-self-check-timeout': {
    type: 'string',
    default: '2m',
    help: 'Longest wait for a challenge URL to answer before the issuance fails, the CA not asked to validate',
  },
  'webhook-cert-dir': {
    type: 'string',
    help: 'Directory of tls.crt and tls.key for the validating webhook; with --webhook-secret, where the operator writes them (default: a new directory under the temp dir). Neither: no webhook server',
  },
  'webhook-port': {
    type: 'string',
    default: '9443',
    help: 'Port of the validating webhook server (with --webhook-cert-dir or --webhook-secret)',
  },
  'webhook-secret': {
    type: 'string',
    help: 'Secret (in the cluster resource namespace) where the operator keeps the CA and serving key pair it makes for the webhook itself; needs --webhook-service',
  },
  'webhook-service': {
    type: 'string',
    help: 'Service (in the cluster resource namespace) in front of the webhook: the serving certificate is for NAME.NAMESPACE.svc and NAME.NAMESPACE.svc.cluster.local',
  },
  'webhook-configuration': {
    type: 'string',
    help: 'ValidatingWebhookConfiguration whose webhooks get the CA of --webhook-secret as caBundle (unset: left to you)',
  },
  'backoff-initial': {
    type: 'string',
    default: '1h',
    help: 'Wait after a first failed issuance; doubles per failure',
  },
  'backoff-max': { type: 'string', default: '32h', help: 'Longest wait between failed issuances' },
  concurrency: { type: 'string', default: '50', help: 'Certificates issued at once' },
  'acme-renewal-info-interval': {
    type: 'string',
    default: '6h',
    help: "How often to ask an ACME CA again for each certificate's suggested renewal window (ACME Renewal Information): a CA that must revoke moves it forward",
  },
  // An issuance writes to the API about 8 times: 20 qps would serialise issuing.
  ...operatorFlags('chousei-cert-operator', { metrics: 9402, health: 9403, qps: 100, burst: 200 }),
} satisfies Record<string, FlagSpec>;

export interface CertOperatorConfig extends OperatorSettings {
  /** The one namespace served (--namespace); unset: every namespace. */
  namespace?: string;
  clusterResourceNamespace: string;
  defaultIssuer?: IssuerRef;
  /** --enable-gateway-api, with --enable-gateway-api-listenerset. */
  gatewayAPI?: { listenerSets: boolean };
  http01SolverPort: number;
  http01SolverService?: SolverService;
  http01SelfCheck: { port: number; nameservers: Nameserver[]; timeoutMs: number };
  /** The validating webhook server, when a cert directory or a serving cert Secret is given. */
  webhook?: {
    port: number;
    /** Unset with servingCert: a temporary directory. */
    certDir?: string;
    /** The serving certificate the operator makes and keeps itself. */
    servingCert?: ServingCertConfig;
  };
  backoff: { initialMs: number; maxMs: number };
  concurrency: number;
  renewalInfoIntervalMs: number;
  /** Empty: the system resolver. */
  dns01RecursiveNameservers: Nameserver[];
  help: boolean;
}

export interface ServingCertConfig {
  secretName: string;
  serviceName: string;
  webhookConfigurationName?: string;
}

export { ConfigError };

const DNS_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Environment variables of the flags: CHOUSEI_CERT_ + the flag in upper snake case. */
export const ENV_PREFIX = 'CHOUSEI_CERT';

/** Parses flags, falling back to CHOUSEI_CERT_* variables, then defaults; validates all. */
export function parseConfig(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): CertOperatorConfig {
  const flags = new Flags(FLAGS, ENV_PREFIX, argv, env);
  if (flags.bool('help')) return { help: true } as CertOperatorConfig;
  // Empty, as the chart's watchNamespace: every namespace.
  const namespace = flags.str('namespace') || undefined;
  if (namespace !== undefined && !NAMESPACE_NAME.test(namespace)) {
    throw new ConfigError(
      `${flags.where('namespace')} must be a namespace name; got "${namespace}"`,
    );
  }
  const issuerName = flags.str('default-issuer-name');
  const backoff = backoffFromFlags(flags);
  const webhookCertDir = flags.str('webhook-cert-dir');
  const servingCert = servingCertConfig(flags);
  const clusterResourceNamespace = namespace
    ? scopedClusterResourceNamespace(flags, namespace)
    : clusterResourceNamespaceFromFlags(flags, env);
  const solverService = flags.str('http01-solver-service');
  const service = solverService
    ? /^([a-z0-9]([-a-z0-9]*[a-z0-9])?):(\d{1,5})$/.exec(solverService)
    : undefined;
  if (solverService && !service) {
    throw new ConfigError(
      `${flags.where('http01-solver-service')} must be NAME:PORT; got "${solverService}"`,
    );
  }
  return {
    clusterResourceNamespace,
    ...(service
      ? {
          http01SolverService: {
            namespace: clusterResourceNamespace,
            name: service[1]!,
            port: Number(service[3]),
          },
        }
      : {}),
    ...(namespace ? { namespace } : {}),
    ...(issuerName
      ? { defaultIssuer: { name: issuerName, kind: defaultIssuerKind(flags, namespace) } }
      : {}),
    ...gatewayAPIConfig(flags),
    http01SolverPort: flags.int('http01-solver-port', 1, 65535),
    http01SelfCheck: {
      port: flags.int('http01-self-check-port', 1, 65535),
      nameservers: nameserverList(flags, 'http01-self-check-nameservers'),
      timeoutMs: flags.duration('http01-self-check-timeout'),
    },
    ...(webhookCertDir || servingCert
      ? {
          webhook: {
            port: flags.int('webhook-port', 1, 65535),
            ...(webhookCertDir ? { certDir: webhookCertDir } : {}),
            ...(servingCert ? { servingCert } : {}),
          },
        }
      : {}),
    backoff,
    concurrency: flags.int('concurrency', 1, 1000),
    renewalInfoIntervalMs: flags.duration('acme-renewal-info-interval'),
    dns01RecursiveNameservers: nameserverList(flags, 'dns01-recursive-nameservers'),
    ...operatorSettings(flags, env),
    help: false,
  };
}

function gatewayAPIConfig(flags: Flags<typeof FLAGS>): Pick<CertOperatorConfig, 'gatewayAPI'> {
  const listenerSets = flags.bool('enable-gateway-api-listenerset');
  if (!flags.bool('enable-gateway-api')) {
    if (listenerSets)
      throw new ConfigError(
        `${flags.where('enable-gateway-api-listenerset')} goes with ${flags.where('enable-gateway-api')}`,
      );
    return {};
  }
  return { gatewayAPI: { listenerSets } };
}

/**
 * The backoff flags, validated. Takes any Flags holding them, so tools that reason about
 * the operator (kubectl-chousei) read them exactly as it does.
 */
export function backoffFromFlags(
  flags: Flags<Pick<typeof FLAGS, 'backoff-initial' | 'backoff-max'>>,
): { initialMs: number; maxMs: number } {
  const backoff = {
    initialMs: flags.duration('backoff-initial'),
    maxMs: flags.duration('backoff-max'),
  };
  if (backoff.maxMs < backoff.initialMs) {
    throw new ConfigError(
      `${flags.where('backoff-max')} must not be shorter than ${flags.where('backoff-initial')}`,
    );
  }
  return backoff;
}

/** Where ClusterIssuers' Secrets live: the flag, else the pod's namespace, else cert-operator. */
export function clusterResourceNamespaceFromFlags(
  flags: Flags<Pick<typeof FLAGS, 'cluster-resource-namespace'>>,
  env: NodeJS.ProcessEnv = process.env,
): string {
  return flags.str('cluster-resource-namespace') ?? env.POD_NAMESPACE ?? 'cert-operator';
}

/**
 * In one namespace the operator keeps everything there: its webhook Secret, and the
 * temporary HTTP-01 Ingresses beside its challenge Service, which it reads back through the
 * namespace's cache. So the cluster resource namespace is the served one.
 */
function scopedClusterResourceNamespace(flags: Flags<typeof FLAGS>, namespace: string): string {
  const given = flags.str('cluster-resource-namespace');
  if (given !== undefined && given !== namespace) {
    throw new ConfigError(
      `${flags.where('cluster-resource-namespace')} must be the namespace of ${flags.where('namespace')} ("${namespace}") or unset; got "${given}"`,
    );
  }
  return namespace;
}

/** ClusterIssuers are not served in one namespace: there the default kind is Issuer. */
function defaultIssuerKind(
  flags: Flags<typeof FLAGS>,
  namespace: string | undefined,
): 'Issuer' | 'ClusterIssuer' {
  const kind = flags.oneOf('default-issuer-kind', ['Issuer', 'ClusterIssuer'] as const);
  if (namespace && kind === 'ClusterIssuer') {
    throw new ConfigError(
      `${flags.where('default-issuer-kind')} must be Issuer with ${flags.where('namespace')}: ClusterIssuers are not served in one namespace`,
    );
  }
  return kind;
}

/** The self-check's DNS servers: IP addresses (a name would need a resolver to find it). */
function nameserverList(
  flags: Flags<typeof FLAGS>,
  flag: 'http01-self-check-nameservers' | 'dns01-recursive-nameservers',
): Nameserver[] {
  return flags.list(flag).map((value) => {
    const server = parseNameserver(value);
    if (!isIP(server.host) || server.port < 1 || server.port > 65535) {
      throw new ConfigError(
        `${flags.where(flag)} must be IP or IP:PORT, comma-separated; got "${value}"`,
      );
    }
    return server;
  });
}

/** The self-managed serving certificate's flags: all three name objects, checked as such. */
function servingCertConfig(flags: Flags<typeof FLAGS>): ServingCertConfig | undefined {
  const name = (flag: keyof typeof FLAGS & string, syntax: RegExp, what: string) => {
    const value = flags.str(flag);
    if (value !== undefined && !syntax.test(value)) {
      throw new ConfigError(`${flags.where(flag)} must be ${what}; got "${value}"`);
    }
    return value;
  };
  const secretName = name('webhook-secret', DNS_SUBDOMAIN, 'a Secret name');
  const serviceName = name('webhook-service', DNS_LABEL, 'a Service name (a DNS label)');
  const configuration = name(
    'webhook-configuration',
    DNS_SUBDOMAIN,
    'a ValidatingWebhookConfiguration name',
  );
  if (!secretName) {
    for (const flag of ['webhook-service', 'webhook-configuration'] as const) {
      if (flags.str(flag) !== undefined) {
        throw new ConfigError(`${flags.where(flag)} needs ${flags.where('webhook-secret')}`);
      }
    }
    return undefined;
  }
  if (!serviceName) {
    throw new ConfigError(
      `${flags.where('webhook-secret')} needs ${flags.where('webhook-service')}: the serving certificate is for that Service`,
    );
  }
  return {
    secretName,
    serviceName,
    ...(configuration ? { webhookConfigurationName: configuration } : {}),
  };
}

export function helpText(): string {
  return flagsHelp(FLAGS, 'Usage: chousei-cert-operator [flags]', ENV_PREFIX);
}
