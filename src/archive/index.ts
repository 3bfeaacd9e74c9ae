export * from './apply-layer.js';
export { cleanName, RootResolver } from './root-path.js';
export { createSpecialNodes, readOpaqueDirs, type SpecialNode } from './special-nodes.js';
export { applyLayerFile, prewarmApplyThreads, type ApplyLayerFileOptions } from './apply-layer-file.js';
