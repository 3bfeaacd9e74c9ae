import type { Digest } from '../oci/index.js';
import type { Tx } from './db.js';

export interface SnapshotRecord {
  chainId: Digest;
  parentChainId: Digest | undefined;
  diffId: Digest;
  /** Uncompressed bytes of this layer alone. */
  size: number;
  createdAt: number;
}

export interface SnapshotInput {
  chainId: Digest;
  parentChainId?: Digest | undefined;
  diffId: Digest;
  size: number;
}

interface SnapshotRow {
  chain_id: string;
  parent_chain_id: string | null;
  diff_id: string;
  size: number;
  created_at: number;
}

const toSnapshot = (r: SnapshotRow): SnapshotRecord => ({
  chainId: r.chain_id as Digest,
  parentChainId: (r.parent_chain_id ?? undefined) as Digest | undefined,
  diffId: r.diff_id as Digest,
  size: r.size,
  createdAt: r.created_at,
});

/**
 * Committed layer snapshots, keyed by chain ID. Record one after the snapshotter renamed its
 * directory into place (files before rows). The parent must be recorded by commit time.
 */
export const snapshots = {
  /** Insert if absent: a chain ID names immutable content, so an existing row is kept. */
  put(tx: Tx, s: SnapshotInput, now: number = tx.now): void {
    tx.run(
      `INSERT INTO snapshots (chain_id, parent_chain_id, diff_id, size, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (chain_id) DO NOTHING`,
      s.chainId,
      s.parentChainId ?? null,
      s.diffId,
      s.size,
      now,
    );
  },

  find(tx: Tx, chainId: string): SnapshotRecord | undefined {
    const r = tx.get<SnapshotRow>(
      `SELECT chain_id, parent_chain_id, diff_id, size, created_at FROM snapshots WHERE chain_id = ?`,
      chainId,
    );
    return r && toSnapshot(r);
  },

  /** The image's layer snapshots, bottom first. */
  forImage(tx: Tx, imageId: string): SnapshotRecord[] {
    return tx
      .all<SnapshotRow>(
        `SELECT s.chain_id, s.parent_chain_id, s.diff_id, s.size, s.created_at
         FROM image_snapshots i JOIN snapshots s ON s.chain_id = i.chain_id
         WHERE i.image_id = ? ORDER BY i.position`,
        imageId,
      )
      .map(toSnapshot);
  },
};
