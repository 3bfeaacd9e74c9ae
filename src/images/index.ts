export { pullImage, type PullOptions, type PullResult } from './pull.js';
export { ImageStore, type ImageStoreDeps } from './image-store.js';
export { listImages, inspectImage, findImage, noSuchImage, parseName } from './queries.js';
export { readImageTree, type TreeEntry } from './image-tree.js';
export { imageRows, familiarRepository, type ImageRow, type ListedImage } from './list-rows.js';
export { inspectView, goTime, type ImageInspect } from './inspect-view.js';
export { LAYER_STATUS, type LayerAction, type OnProgress, type ProgressEvent } from './progress.js';
export { selectPlatform } from './select-platform.js';
