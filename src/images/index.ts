export { pullImage, type PullOptions, type PullResult } from './pull.js';
export { ImageStore, type ImageStoreDeps } from './image-store.js';
export { listImages, listImageRows, inspectImage, findImage, noSuchImage, parseName } from './queries.js';
export { readImageTree, type TreeEntry } from './image-tree.js';
export { imageRows, imageRowColumns, familiarRepository, type ImageRow, type ImageRowColumns, type ListedImage } from './list-rows.js';
export { inspectView, goTime, type ImageInspect } from './inspect-view.js';
export { LAYER_STATUS, type LayerAction, type OnProgress, type ProgressEvent } from './progress.js';
export { selectPlatform } from './select-platform.js';
export { filterImages, labelMatches, invalidFilter, type ImageFilters } from './list-filter.js';
export { parseFilterTimestamp } from './timestamp.js';
export { RemovalTx, type RemoveEvent, type RemoveOptions, type Removal } from './remove.js';
export {
  removeImages,
  pruneImages,
  tagImage,
  touchImage,
  deleteSweptFiles,
  storeBytes,
  type ManageDeps,
  type RmiResult,
  type PruneOptions,
  type PruneResult,
} from './manage.js';
export { imageHistory, type HistoryItem } from './history.js';
export { diskUsage, type DiskUsage, type ImageDiskUsage } from './disk-usage.js';
export { checkStore, type CheckResult, type CheckProblem, type CheckProblemKind } from './check.js';
export { LocalImages, type LocalImage, type NewImage } from './local-images.js';
export { pushImage, type PushOptions, type PushedTag, type PushDeps } from './push.js';
export { saveImages, selectImages, inventory, type SaveOptions, type SaveResult } from './save.js';
export { loadImages, type LoadOptions, type LoadedImage } from './load.js';
export { importImage, type ImportOptions } from './import.js';
export { applyChanges } from './config-changes.js';
export { copyImage, parseLocation, type ImageLocation, type SourceImage, type CopyOptions, type CopyDeps } from './copy.js';
