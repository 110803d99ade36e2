export { WebhookProvider, type WebhookProviderOptions } from './client.js';
export {
  fromEndpoint,
  MEDIA_TYPE,
  type ProviderSpecificProperty,
  toEndpoint,
  type WebhookChanges,
  type WebhookDomainFilter,
  type WebhookEndpoint,
} from './protocol.js';
export {
  type RunningWebhookServer,
  startWebhookServer,
  WebhookServer,
  type WebhookServerOptions,
} from './server.js';
