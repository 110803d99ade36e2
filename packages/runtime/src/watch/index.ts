export { type BackoffOptions, backoffDelay } from './backoff.js';
export { type WatchEvent, Watcher, type WatcherOptions, type WatchScope } from './watcher.js';
