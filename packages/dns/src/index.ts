// @chousei/dns: sources hand desired records to plan/, which diffs them with what
// registry/ says we own in what provider/ lists; provider/ applies the changes.
export * from './domain-policy/index.js';
export * from './plan/plan.js';
export {
  HttpServiceError,
  type HttpServiceStats,
  type HttpTlsOptions,
} from './provider/http.js';
export * from './provider/inmemory/inmemory.js';
export { PowerDNSProvider, type PowerDNSProviderOptions } from './provider/powerdns/index.js';
export * from './provider/provider.js';
export {
  type RFC2136Options,
  RFC2136Provider,
  TSIG_ALGORITHMS,
  type TsigAlgorithm,
  TsigError,
  type TsigKey,
  tsigSecretProblem,
  weakTsigAlgorithm,
} from './provider/rfc2136/index.js';
export {
  ALIAS_TTL,
  type AliasAsk,
  type AliasPolicy,
  type AliasPolicyOptions,
  type AliasRecords,
  aliasFor,
  Route53Provider,
  type Route53ProviderOptions,
  type Route53Stats,
  type Route53ZoneFilter,
  route53Aliases,
} from './provider/route53/index.js';
export * from './provider/webhook/index.js';
export * from './records.js';
export * from './registry/txt-registry.js';
