export { CRDS, type DNSEndpoint, DNSEndpoints, dnsEndpointCRD } from './api/dnsendpoint.js';
export {
  ConfigError,
  configFromFlags,
  type DnsOperatorConfig,
  type DnsSourceConfig,
  ENV_PREFIX,
  FLAGS,
  helpText,
  type ProviderName,
  parseConfig,
} from './config.js';
// For tools that explain what the operator does (kubectl-chousei): its own code, not copies.
export {
  byAge,
  type Claimant,
  type MergedName,
  mergeClaims,
  resourceLabel,
} from './controller/claims.js';
export type { EventSink } from './controller/events.js';
export type { NameOutcome } from './controller/name-reconciler.js';
export {
  admitClaims,
  type CrossNamespaceClaims,
  type RefusedClaim,
  resourceNamespace,
  type TenancyRules,
} from './controller/tenancy.js';
export { zoneOf } from './controller/zone-cache.js';
export {
  isGatewayRouteSource,
  type RegistryOptions,
  SOURCE_KINDS,
  type SourceDef,
  type SourceOptions,
  type Sources,
  sourcesFor,
  txtRegistryFor,
  zoneFilterFor,
} from './definitions.js';
export { DryRunProvider } from './dry-run.js';
export {
  type DnsOperator,
  type DnsOperatorOptions,
  FINALIZER,
  type SourceKind,
  setupDnsOperator,
} from './operator.js';
export { buildProvider, operatorOptions, runOnce } from './run.js';
export type { Endpoint, FieldError, SourceResult } from './sources/endpoint.js';
export type { GatewayLookup } from './sources/gateway.js';
