export { openDatabase, SCHEMA_VERSION } from './db.js';
export type { Db, Tx, SqlParam, OpenDatabaseOptions } from './db.js';
export { MIGRATIONS } from './migrations.js';
export { blobs } from './blobs.js';
export type { BlobRecord, BlobInput, BlobSource } from './blobs.js';
export { indexes } from './indexes.js';
export type { IndexRecord, IndexChild } from './indexes.js';
export { snapshots } from './snapshots.js';
export type { SnapshotRecord, SnapshotInput } from './snapshots.js';
export { images, refGroups } from './images.js';
export type {
  ImageRecord,
  ImageSummary,
  ImageListEntry,
  PackedImage,
  PackedRefs,
  ImageInput,
  ImageTarget,
  ImageBlobEdge,
  ImageBlobRole,
  TagRef,
  DigestRef,
} from './images.js';
export { tags, digestRefs } from './tags.js';
export { leases } from './leases.js';
export type { LeaseId, LeaseRecord, LeaseResourceKind } from './leases.js';
export { resolveImage } from './resolve-image.js';
export type { ParsedName, ResolvedImage } from './resolve-image.js';
export { collectGarbage, imageRemovalPlan, isLive } from './gc.js';
export type { GcOptions, GcResult, RemovalPlan } from './gc.js';
export { DEFAULT_ROOTS, REFERENCE_ROOTS, LEASE_ROOTS, imageUsers } from './roots.js';
export type { RootSource, ImageUser } from './roots.js';
