export type { RegistryStorage, BlobStore, UploadStore, RepoIndex, BlobStat, UploadInfo, ManifestRecord, ByteRange, Page } from './types.js';
export { FsRegistryStorage } from './fs-storage.js';
// The conformance suite (registryStorageSuite) is imported from './testsuite.js' by tests:
// exporting it here would load node:test into `lading registry serve`.
