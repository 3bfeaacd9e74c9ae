export * from './tar-layer.js';
export * from './image-builder.js';
export * from './push-fixture.js';
export * from './distribution.js';
export * from './require-tool.js';
export * from './capture-io.js';
export * from './counting-proxy.js';
export * from './zstd.js';
