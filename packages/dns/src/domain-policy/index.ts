export * from './api.js';
export * from './cache.js';
export * from './judge.js';
