export { type Address, helpText, NAME, parseConfig, type WebhookConfig } from './config.js';
export { type Serving, serve } from './serve.js';
