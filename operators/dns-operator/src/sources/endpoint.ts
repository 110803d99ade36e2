import type { AliasAsk, RecordType } from '@chousei/dns';

/**
 * One record set an object asks for, before zones and ownership: the unit sources
 * produce. Names are normalised (lower-case, no trailing dot); targets are in the
 * record model's presentation form (see @chousei/dns RecordSet).
 */
export interface Endpoint {
  name: string;
  type: RecordType;
  targets: string[];
  /** Seconds; unset means the operator's default TTL. */
  ttl?: number;
  /**
   * A CNAME's alias property, as external-dns's (the `alias: "true"` annotation, a
   * DNSEndpoint's providerSpecific `alias`); unset: the provider's default (Route53: see
   * route53Aliases).
   */
  alias?: AliasAsk;
}

/** Input that cannot be published, naming the field that holds it. */
export interface FieldError {
  /** e.g. `spec.rules[1].host`, `metadata.annotations[dns.chousei.dev/ttl]`, `spec.endpoints[0].targets[2]`. */
  field: string;
  message: string;
}

/** What a source makes of one object. */
export interface SourceResult {
  endpoints: Endpoint[];
  errors: FieldError[];
  /**
   * Every valid name the object claims, also those without targets yet (an Ingress whose
   * load balancer status is empty): the operator keeps such names' last published records.
   */
  names: string[];
  /** Endpoints of a type outside --managed-record-types: never written, reported instead. */
  unmanaged?: Endpoint[];
}
