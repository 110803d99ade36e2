export * from './annotations.js';
export * from './dnsendpoint.js';
export * from './endpoint.js';
export * from './filters.js';
export * from './ingress.js';
export * from './loadbalancer.js';
export * from './service.js';
export * from './validate.js';
