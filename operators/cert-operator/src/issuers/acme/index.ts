export { ACMEIssuer, type ACMEIssuerOptions } from './acme.js';
export { ariCertId, parseRenewalInfo, type RenewalWindow, renewalTimeIn } from './ari.js';
export { ACMENetworkError, ACMEProblemError } from './http.js';
