export * from './types.js';
export { FsContentStore, refKey } from './fs-store.js';
export { storeBlob, type BlobSource, type OpenAt, type StoreBlobOpts, type StoreBlobResult } from './store-blob.js';
