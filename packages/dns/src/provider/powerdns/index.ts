export { fromPdns, type PdnsRRSet, type PdnsZone, toPdnsChange } from './convert.js';
export { PowerDNSProvider, type PowerDNSProviderOptions } from './powerdns.js';
