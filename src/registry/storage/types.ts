import type { Readable } from 'node:stream';
import type { Descriptor, Digest } from '../../oci/index.js';

/**
 * The registry's storage as the handlers see it: filesystem now, an object store (S3) plus a
 * database later. Blobs are content-addressed and shared by every repository; a repository sees
 * a blob only once it is linked there (distribution's linked blob store).
 *
 * Upload lifecycle: `start` → `append`… (each at the current offset; a partial append keeps the
 * bytes that arrived) → `commit(digest)` verifies and makes the blob visible in one atomic step,
 * or `cancel`. An upload's state lives in storage, so it survives a restart and resumes.
 *
 * Errors are LadingErrors: NOT_FOUND, CONFLICT (append at the wrong offset; detail.offset holds
 * the right one), DIGEST_MISMATCH, SIZE_MISMATCH, INVALID_ARGUMENT (bad range).
 */
export interface RegistryStorage {
  readonly blobs: BlobStore;
  readonly uploads: UploadStore;
  readonly repos: RepoIndex;
}

/** `start` inclusive, `end` exclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface BlobStat {
  digest: Digest;
  size: number;
  /** When the blob was last written or referenced (manifest PUT, mount): the collector's clock. */
  referencedAt: Date;
}

export interface BlobStore {
  stat(d: Digest): Promise<BlobStat | undefined>;
  /** A stream of the blob (or a range of it), or a URL to redirect the client to. NOT_FOUND when absent. */
  open(d: Digest, o?: { range?: ByteRange; signal?: AbortSignal }): Promise<{ stream: Readable; size: number } | { redirect: string }>;
  /** Small blobs (manifests) in memory, at most maxBytes. */
  read(d: Digest, maxBytes: number): Promise<Buffer>;
  /** Store small bytes under their digest (manifests). Already present: refreshed, success. */
  put(d: Digest, bytes: Uint8Array): Promise<void>;
  /** Refresh `referencedAt` to now; false when the blob does not exist. */
  touch(d: Digest): Promise<boolean>;
  /** false when it was not there. */
  delete(d: Digest): Promise<boolean>;
  /**
   * The collector's delete: remove the blob only if it is still unreferenced since `cutoff`,
   * safe against a concurrent `touch` (a touch that wins keeps the blob).
   */
  sweep(d: Digest, cutoff: Date): Promise<'deleted' | 'kept' | 'absent'>;
  walk(): AsyncIterable<BlobStat>;
}

export interface UploadInfo {
  id: string;
  repository: string;
  /** Bytes received so far: the next append starts here. */
  offset: number;
  startedAt: Date;
  updatedAt: Date;
}

export interface UploadStore {
  start(repository: string): Promise<UploadInfo>;
  /** undefined when unknown (never started, committed or cancelled). */
  info(id: string): Promise<UploadInfo | undefined>;
  /**
   * Append `body` at `at`, which must equal the current offset (CONFLICT otherwise). Fails with
   * SIZE_MISMATCH past `maxBytes` total. Bytes written before a failure stay; returns the new offset.
   */
  append(id: string, at: number, body: Readable, o?: { signal?: AbortSignal; maxBytes?: number }): Promise<number>;
  /**
   * Verify the content against `digest` (DIGEST_MISMATCH, and the upload is discarded) and make
   * it a blob. Never leaves a partial blob visible.
   */
  commit(id: string, digest: Digest): Promise<BlobStat>;
  cancel(id: string): Promise<boolean>;
  list(): AsyncIterable<UploadInfo>;
}

/** A manifest as a repository records it. */
export interface ManifestRecord {
  digest: Digest;
  mediaType: string;
  size: number;
  /** The manifest's subject (referrers API). */
  subject?: Digest;
  /** What the referrers API reports: artifactType (or config media type) and annotations. */
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface Page<T> {
  items: T[];
  /** There are more after the last item. */
  more: boolean;
}

export interface RepoIndex {
  linkBlob(repo: string, d: Digest): Promise<void>;
  hasBlobLink(repo: string, d: Digest): Promise<boolean>;
  unlinkBlob(repo: string, d: Digest): Promise<boolean>;
  listBlobLinks(repo: string): AsyncIterable<Digest>;
  /** Record a manifest revision (and its referrer entry when it has a subject). Idempotent. */
  putManifest(repo: string, m: ManifestRecord): Promise<void>;
  getManifest(repo: string, d: Digest): Promise<ManifestRecord | undefined>;
  /** Remove the revision, every tag pointing at it and its referrer entry; false if absent. */
  deleteManifest(repo: string, d: Digest): Promise<boolean>;
  listManifests(repo: string): AsyncIterable<ManifestRecord>;
  setTag(repo: string, tag: string, d: Digest): Promise<void>;
  resolveTag(repo: string, tag: string): Promise<Digest | undefined>;
  deleteTag(repo: string, tag: string): Promise<boolean>;
  /** Tags in lexical order, after `last`, at most `n` (all when n is undefined). */
  listTags(repo: string, o?: { n?: number; last?: string }): Promise<Page<string>>;
  /** Descriptors of the manifests in `repo` whose subject is `subject`. */
  referrers(repo: string, subject: Digest): Promise<Descriptor[]>;
  /** Repository names in lexical order, paged like tags. */
  repositories(o?: { n?: number; last?: string }): Promise<Page<string>>;
  exists(repo: string): Promise<boolean>;
  /** Remove every link, manifest and tag of the repository (not nested repositories); false if absent. */
  deleteRepository(repo: string): Promise<boolean>;
}
