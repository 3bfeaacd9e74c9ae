export * from './clock.js';
export * from './semaphore.js';
export * from './singleflight.js';
export * from './backoff.js';
export * from './atomic-write.js';
export * from './fsync-dir.js';
export * from './read-limited.js';
export * from './format.js';
