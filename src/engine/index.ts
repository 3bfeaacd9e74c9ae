export { createEngine, type Engine, type EngineOptions } from './engine.js';
export { resolveConfig, defaultRoot, defaultConfigFile, type Config, type ConfigInput } from './config.js';
export { imageRows, LAYER_STATUS } from '../images/index.js';
export type { ProgressEvent, OnProgress, LayerAction, ImageRow, ImageRowColumns, ListedImage, PullResult, ImageInspect } from '../images/index.js';
export type { TransferMethods } from './transfer.js';
export type { PushOptions, PushedTag, SaveOptions, SaveResult, LoadOptions, LoadedImage, ImportOptions, CopyOptions, ImageLocation } from '../images/index.js';
