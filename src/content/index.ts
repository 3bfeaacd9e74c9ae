export * from './types.js';
export { FsContentStore, refKey } from './fs-store.js';
export { storeBlob, type BlobSource, type OpenAt, type StoreBlobOpts, type StoreBlobResult } from './store-blob.js';
// The conformance suite (contentStoreSuite) is imported from './testsuite.js' by tests: exporting it
// here would load node:test into every CLI process.
