export * from './types.js';
export * from './dir-snapshotter.js';
export * from './overlay.js';
export * from './native.js';
export * from './create-snapshotter.js';
export * from './apply-layer-snapshot.js';
export * from './merged-tree.js';
