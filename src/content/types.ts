import type { Readable, Writable } from 'node:stream';
import type { Digest } from '../oci/index.js';

/**
 * The content store's lifecycle (containerd core/content/content.go):
 *
 *   ingest(ref) ──► writable() … ──► commit(expect) ──► blob visible under its digest
 *        │                      └──► close()  keeps the partial data; ingest(ref) later resumes at offset
 *        │                      └──► abort()  discards it
 *        └─ one holder per ref across processes; a second caller waits, then usually finds the
 *           blob committed by the first (refs derive from the digest, so two pulls share one download).
 *
 * Nothing written through an ingest is visible until commit has verified size and digest.
 */

export interface BlobInfo {
  digest: Digest;
  size: number;
  /** Commit time. */
  createdAt: Date;
}

export interface IngestStatus {
  ref: string;
  /** Bytes written so far (a resume continues here). */
  offset: number;
  total?: number;
  expected?: Digest;
  startedAt: Date;
  updatedAt: Date;
  /** The recorded holder, live or stale: a crashed process leaves its pid here. */
  lockedBy?: { pid: number; startedAt: number };
}

/** `start` inclusive, `end` exclusive (like Buffer.subarray); HTTP's inclusive `bytes=a-b` is end = b + 1. */
export interface ReadOpts {
  signal?: AbortSignal;
  start?: number;
  end?: number;
}

export interface ContentProvider {
  /** Cheap existence check; undefined when absent. */
  info(d: Digest): Promise<BlobInfo | undefined>;
  /** Throws NOT_FOUND when absent; INVALID_ARGUMENT for a range outside the blob. */
  open(d: Digest, o?: ReadOpts): Promise<Readable>;
  /** Small blobs (manifests, configs); INVALID_ARGUMENT past maxBytes. */
  readAll(d: Digest, o: { maxBytes: number; signal?: AbortSignal }): Promise<Buffer>;
  /** The final blob path, for zero-copy consumers (sendfile, unpack). It may not exist. */
  path(d: Digest): string;
}

export interface CommittedBlob {
  digest: Digest;
  size: number;
}

/** One in-progress write, invisible until commit. */
export interface Ingest {
  readonly ref: string;
  /** Bytes already in the ingest: > 0 when resuming. */
  readonly offset: number;
  /**
   * Appends at `offset`, hashing every byte as it is written, so commit never re-reads.
   * Fails with SIZE_MISMATCH as soon as more than the expected total arrives.
   * Returns the same stream until it has finished; after that a fresh one continuing at offset.
   */
  writable(): Writable;
  /**
   * Ends the writable, fsyncs, checks size and digest (defaults: the ingest's expectation), then
   * renames into place. A blob already present is success. On SIZE_MISMATCH or DIGEST_MISMATCH the
   * ingest is discarded and nothing becomes visible.
   */
  commit(expect?: { digest?: Digest; size?: number }): Promise<CommittedBlob>;
  /** Release the ref and keep partial data for a later resume. Idempotent; a no-op after commit. */
  close(): Promise<void>;
  /** Release the ref and discard the data. Idempotent; a no-op after commit. */
  abort(): Promise<void>;
}

export interface IngestOpts {
  signal?: AbortSignal;
  /** How long to wait for another holder of the ref before UNAVAILABLE (default 10 minutes). */
  timeoutMs?: number;
}

export interface ContentStore extends ContentProvider {
  /**
   * Open (or resume) the ingest named `ref`, waiting while another holder, in this process or
   * another, has it. An expectation that contradicts a kept partial discards that partial.
   */
  ingest(ref: string, expect?: { digest?: Digest; size?: number }, o?: IngestOpts): Promise<Ingest>;
  /** Throws NOT_FOUND when absent. */
  delete(d: Digest): Promise<void>;
  walk(): AsyncIterable<BlobInfo>;
  ingests(): AsyncIterable<IngestStatus>;
  /** Remove ingests nobody holds whose last update is older than the window; returns how many. */
  cleanupIngests(o: { olderThanMs: number }): Promise<number>;
}
