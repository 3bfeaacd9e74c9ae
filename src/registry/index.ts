// The OCI distribution-spec registry server: a second product in this repository (architecture
// guide §2): it imports only server, oci, errors and util.
export { startRegistryServer, type RegistryServerOptions, type RunningRegistryServer } from './server.js';
export { resolveRegistryConfig, readRegistryConfigFile, parseDuration, type RegistryConfig, type RegistryConfigInput } from './config.js';
export { collectGarbage, referencedDigests, type GcOptions, type GcReport } from './gc.js';
export { registryRouter } from './app.js';
export { OCI_ERRORS, RegistryHttpError, type OciErrorCode } from './errors.js';
export { Htpasswd, AccessPolicy, parseScope, formatScope, type Access, type AccessRule } from './auth/index.js';
export { FsRegistryStorage, type RegistryStorage, type BlobStore, type UploadStore, type RepoIndex, type ManifestRecord } from './storage/index.js';
export { createLogger } from '../server/index.js';
