export { type BackoffOptions, backoffDelay, sleep } from './backoff.js';
export { type WatchEvent, Watcher, type WatcherOptions, type WatchScope } from './watcher.js';
