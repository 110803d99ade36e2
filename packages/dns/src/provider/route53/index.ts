export {
  ALIAS_TTL,
  type AliasAsk,
  type AliasPolicy,
  type AliasPolicyOptions,
  type AliasRecords,
  aliasFor,
  route53Aliases,
} from './alias.js';
export { packBatches, ROUTE53_LIMITS, type Route53Limits, wireCost } from './batch.js';
export { canonicalHostedZoneId, ELB_CANONICAL_ZONES } from './canonical-zones.js';
export {
  escapeName,
  fromRoute53,
  quoteTxt,
  toRoute53,
  toRoute53Changes,
  unescapeName,
  unquoteTxt,
} from './convert.js';
export { type RateLimitOptions, sharedLimiter } from './rate-limit.js';
export {
  type Route53Operation,
  Route53Provider,
  type Route53ProviderOptions,
  type Route53Stats,
} from './route53.js';
export { bareZoneId, type Route53ZoneFilter } from './zone-filter.js';
