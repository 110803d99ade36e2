import type { AliasPolicy, Policy, Provider, RecordType } from '@chousei/dns';
import type { Logger } from '@chousei/runtime';
import type { EventSink } from './controller/events.js';
import type { CrossNamespaceClaims } from './controller/tenancy.js';
import type { SourceKind } from './definitions.js';

/** What setupDnsOperator is given: the provider, the sources, and external-dns's settings. */
export interface DnsOperatorOptions {
  provider: Provider;
  sources: SourceKind[];
  ownerId: string;
  txtPrefix?: string;
  txtSuffix?: string;
  txtWildcardReplacement?: string;
  policy?: Policy;
  managedTypes?: RecordType[];
  domainFilter?: string[];
  excludeDomains?: string[];
  /**
   * Watch one namespace only. Its claims are all one tenant's: DomainPolicies are not read
   * (nor is any cluster-scoped object), and claims on one name always merge.
   */
  namespace?: string;
  /** Claims on one name from several namespaces: the first namespace keeps it (default), or merge. */
  crossNamespaceClaims?: CrossNamespaceClaims;
  labelFilter?: string;
  annotationFilter?: string;
  /** external-dns's --annotation-prefix: annotations are read under it alone. */
  annotationPrefix?: string;
  /** external-dns's --ignore-ingress-tls-spec: Ingresses' spec.tls hosts claim no name. */
  ignoreIngressTlsSpec?: boolean;
  ingressClasses?: string[];
  /** Read ListenerSets: routes attached to one get names from its listeners (--gateway-listener-sets). */
  gatewayListenerSets?: boolean;
  defaultTTL?: number;
  /** Full resync: re-read every zone and look at every name. Default 10 minutes. */
  resyncIntervalMs?: number;
  /** Names reconciled at once; high, so their changes fill provider calls. Default 1000. */
  concurrency?: number;
  /** Which CNAMEs become alias records (Route53: route53Aliases). */
  aliases?: AliasPolicy;
  /**
   * The first-sync guard: the share of a zone's owned records its first sync may delete
   * (default 0.1; 1 turns it off), and the ConfigMap keeping which zones were synced under
   * which settings (none: each start is a first sync).
   */
  firstSync?: {
    deleteLimit?: number;
    configMap?: { namespace: string; name: string };
    /** How often held deletes look for a confirmation (default 30 s). */
    confirmPollMs?: number;
  };
  /**
   * Hold claiming objects with a finalizer until their records are gone (default true).
   * Off for one-shot runs: nothing would be left running to release it.
   */
  finalizers?: boolean;
  /** Where Events go; default the manager's recorder, writing them to the API. */
  events?: EventSink;
  /**
   * Write nothing to the cluster: no finalizers, no DNSEndpoint status, no Events unless
   * `events` takes them. With a dry-run provider: a plan (kubectl-chousei `dns plan`).
   */
  readOnly?: boolean;
  logger: Logger;
}
