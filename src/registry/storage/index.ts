export type { RegistryStorage, BlobStore, UploadStore, RepoIndex, BlobStat, UploadInfo, ManifestRecord, ByteRange, Page } from './types.js';
export { FsRegistryStorage } from './fs-storage.js';
export { registryStorageSuite, type RegistryStorageHarness } from './testsuite.js';
