export { ACMEIssuer, type ACMEIssuerOptions } from './acme.js';
export { ariCertId, ariCertIdOfInfo, parseRenewalInfo, renewalTimeIn } from './ari.js';
export { ACMENetworkError, ACMEProblemError } from './http.js';
