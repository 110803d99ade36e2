export * from './api/crds.js';
export * from './api/types.js';
export { type CertOperatorConfig, ConfigError, FLAGS, helpText, parseConfig } from './config.js';
export { type CertOperatorOptions, setupCertOperator } from './operator.js';
export * from './webhook/index.js';
