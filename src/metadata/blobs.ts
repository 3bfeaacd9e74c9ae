import type { Digest } from '../oci/index.js';
import type { Tx } from './db.js';

export interface BlobRecord {
  digest: Digest;
  size: number;
  mediaType: string;
  createdAt: number;
}

export interface BlobSource {
  registry: string;
  /** Repository path within the registry, e.g. "library/busybox". */
  repository: string;
  seenAt: number;
}

export interface BlobInput {
  digest: Digest;
  size: number;
  mediaType: string;
  /** Where it was fetched from (or pushed to); recorded for cross-repository mounts. */
  source?: { registry: string; repository: string };
}

interface BlobRow {
  digest: string;
  size: number;
  media_type: string;
  created_at: number;
}

const toBlob = (r: BlobRow): BlobRecord => ({
  digest: r.digest as Digest,
  size: r.size,
  mediaType: r.media_type,
  createdAt: r.created_at,
});

/**
 * Blobs the content store holds. Record a blob only after its file is committed (files before
 * rows, architecture guide §4.6); GC deletes rows first and reports the files to unlink.
 */
export const blobs = {
  /** Insert if absent (content is immutable: an existing row is kept) and add the source, if any. */
  put(tx: Tx, b: BlobInput, now: number = tx.now): void {
    tx.run(
      `INSERT INTO blobs (digest, size, media_type, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (digest) DO NOTHING`,
      b.digest,
      b.size,
      b.mediaType,
      now,
    );
    if (b.source !== undefined) {
      tx.run(
        `INSERT INTO blob_sources (digest, registry, repository, seen_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (digest, registry, repository) DO UPDATE SET seen_at = excluded.seen_at`,
        b.digest,
        b.source.registry,
        b.source.repository,
        now,
      );
    }
  },

  find(tx: Tx, digest: string): BlobRecord | undefined {
    const r = tx.get<BlobRow>(`SELECT digest, size, media_type, created_at FROM blobs WHERE digest = ?`, digest);
    return r && toBlob(r);
  },

  /** Most recently seen first. */
  sources(tx: Tx, digest: string): BlobSource[] {
    return tx
      .all<{ registry: string; repository: string; seen_at: number }>(
        `SELECT registry, repository, seen_at FROM blob_sources WHERE digest = ? ORDER BY seen_at DESC, registry, repository`,
        digest,
      )
      .map((r) => ({ registry: r.registry, repository: r.repository, seenAt: r.seen_at }));
  },

  count(tx: Tx): number {
    return tx.get<{ n: number }>(`SELECT count(*) AS n FROM blobs`)!.n;
  },
};
