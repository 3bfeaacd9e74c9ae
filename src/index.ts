// lading's library API: the engine and the types and errors its callers need.
export { createEngine, resolveConfig, defaultRoot, type Engine, type EngineOptions, type Config, type ConfigInput } from './engine/index.js';
export type { ProgressEvent, OnProgress, LayerAction, ListedImage, ImageRow, PullResult, ImageInspect } from './engine/index.js';
export { imageRows } from './engine/index.js';
export { LadingError, RegistryError, isCode, type ErrorCode } from './errors/index.js';
export { parseReference, withDefaultTag, familiarString, fullString, familiarName, repositoryName, type Reference } from './reference/index.js';
export { parsePlatform, formatPlatform, type Platform, type Descriptor, type Digest } from './oci/index.js';
export { startRegistryServer, resolveRegistryConfig, collectGarbage, type RegistryServerOptions, type RunningRegistryServer, type RegistryConfig, type RegistryConfigInput, type GcReport } from './registry/index.js';
export type { TransferMethods, PushOptions, PushedTag, SaveOptions, SaveResult, LoadOptions, LoadedImage, ImportOptions, CopyOptions, ImageLocation } from './engine/index.js';
