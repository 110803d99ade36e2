export { ACMEIssuer, type ACMEIssuerOptions } from './acme.js';
export { ariCertId, ariCertIdOf, parseRenewalInfo, renewalTimeIn } from './ari.js';
export { ACMENetworkError, ACMEProblemError } from './http.js';
