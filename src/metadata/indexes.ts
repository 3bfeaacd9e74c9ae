import type { Digest, Platform } from '../oci/index.js';
import { blobs } from './blobs.js';
import type { Tx } from './db.js';

export interface IndexChild {
  digest: Digest;
  mediaType: string;
  size: number;
  platform?: Platform;
}

export interface IndexRecord {
  digest: Digest;
  mediaType: string;
  size: number;
  children: IndexChild[];
}

interface ChildRow {
  child_digest: string;
  media_type: string;
  size: number;
  os: string | null;
  architecture: string | null;
  variant: string | null;
}

/** Image indexes (manifest lists) seen by pulls, with their platform children in index order. */
export const indexes = {
  /** Records the index blob too (idempotent). An index is immutable, so an existing row is kept. */
  put(tx: Tx, ix: IndexRecord & { source?: { registry: string; repository: string } }, now: number = tx.now): void {
    blobs.put(tx, { digest: ix.digest, size: ix.size, mediaType: ix.mediaType, ...(ix.source ? { source: ix.source } : {}) }, now);
    const { changes } = tx.run(
      `INSERT INTO indexes (digest, media_type, size) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING`,
      ix.digest,
      ix.mediaType,
      ix.size,
    );
    if (changes === 0) return;
    ix.children.forEach((c, i) => {
      tx.run(
        `INSERT INTO index_children (index_digest, position, child_digest, media_type, size, os, architecture, variant)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        ix.digest,
        i,
        c.digest,
        c.mediaType,
        c.size,
        c.platform?.os ?? null,
        c.platform?.architecture ?? null,
        c.platform?.variant ?? null,
      );
    });
  },

  find(tx: Tx, digest: string): IndexRecord | undefined {
    const r = tx.get<{ digest: string; media_type: string; size: number }>(
      `SELECT digest, media_type, size FROM indexes WHERE digest = ?`,
      digest,
    );
    if (r === undefined) return undefined;
    const children = tx
      .all<ChildRow>(
        `SELECT child_digest, media_type, size, os, architecture, variant FROM index_children
         WHERE index_digest = ? ORDER BY position`,
        digest,
      )
      .map((c): IndexChild => {
        const child: IndexChild = { digest: c.child_digest as Digest, mediaType: c.media_type, size: c.size };
        if (c.os !== null && c.architecture !== null) {
          child.platform = { os: c.os, architecture: c.architecture, ...(c.variant !== null ? { variant: c.variant } : {}) };
        }
        return child;
      });
    return { digest: r.digest as Digest, mediaType: r.media_type, size: r.size, children };
  },

  /** Indexes listing this manifest digest as a child. */
  parentsOf(tx: Tx, childDigest: string): Digest[] {
    return tx
      .all<{ index_digest: string }>(
        `SELECT DISTINCT index_digest FROM index_children WHERE child_digest = ? ORDER BY index_digest`,
        childDigest,
      )
      .map((r) => r.index_digest as Digest);
  },
};
