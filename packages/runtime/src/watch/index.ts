export { type WatchEvent, Watcher, type WatcherOptions, type WatchScope } from './watcher.js';
