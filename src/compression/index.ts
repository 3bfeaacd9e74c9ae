export * from './detect.js';
export * from './streams.js';
export * from './auto-decompress.js';
