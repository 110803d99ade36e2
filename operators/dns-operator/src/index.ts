export { type DNSEndpoint, DNSEndpoints, dnsEndpointCRD } from './api/dnsendpoint.js';
export { ConfigError, type DnsOperatorConfig, FLAGS, helpText, parseConfig } from './config.js';
export {
  type DnsOperator,
  type DnsOperatorOptions,
  FINALIZER,
  type SourceKind,
  setupDnsOperator,
} from './operator.js';
