export { ACMEIssuer, type ACMEIssuerOptions } from './acme.js';
export { ariCertId, parseRenewalInfo, renewalTimeIn } from './ari.js';
export { ACMENetworkError, ACMEProblemError } from './http.js';
