import type { Digest } from '../oci/index.js';
import type { Tx } from './db.js';
import { leases } from './leases.js';
import { DEFAULT_ROOTS, type RootSource } from './roots.js';

export interface GcOptions {
  /**
   * 'all' (default): every image row is a root; only blobs and snapshots no image or lease
   * reaches are swept. 'referenced': only images with a tag or digest reference (or, later, a
   * container) and their parent chain are roots; other images are deleted too.
   */
  images?: 'all' | 'referenced';
  /** Where roots come from (references, leases, later containers); default DEFAULT_ROOTS. */
  roots?: readonly RootSource[];
  /**
   * Sweep only these (what the images just deleted referenced), checking each against the same
   * roots instead of marking the whole store: rmi of one image in a store of 10k stays cheap.
   * Of these candidates it frees exactly what the full sweep would (an image's snapshot
   * candidates must include its whole chain); garbage the store already held, if any, is left
   * for the next full sweep (prune, system check).
   */
  only?: { blobs: readonly string[]; snapshots: readonly string[] };
}

export interface GcResult {
  /** Blob rows deleted: unlink these files after commit (see `isLive`). */
  blobs: Digest[];
  /** Snapshot rows deleted, children before parents: remove these directories after commit. */
  snapshots: Digest[];
  /** Image rows deleted ('referenced' mode only). */
  images: Digest[];
  /** Bytes the deleted blobs and snapshots hold (blob sizes plus layer sizes): what deleting their files frees. */
  bytes: number;
}

/**
 * Mark the live set into the connection's TEMP tables: images from the roots (minus `exclude`),
 * then image -> blobs (edges and digest references) and image -> snapshots, leased resources,
 * and snapshot -> parent to a fixed point.
 */
function mark(tx: Tx, now: number, mode: 'all' | 'referenced', exclude: string | null, roots: readonly RootSource[]): void {
  tx.run(`DELETE FROM temp.gc_images`);
  tx.run(`DELETE FROM temp.gc_blobs`);
  tx.run(`DELETE FROM temp.gc_snapshots`);

  if (mode === 'all') {
    tx.run(`INSERT INTO temp.gc_images (id) SELECT id FROM images WHERE id IS NOT @exclude`, { exclude });
  } else {
    for (const r of roots) {
      if (r.imageRootsSql === undefined) continue;
      tx.run(`INSERT OR IGNORE INTO temp.gc_images (id) SELECT id FROM (${r.imageRootsSql}) WHERE id IS NOT @exclude`, {
        exclude,
        ...(r.imageRootsSql.includes('@now') ? { now } : {}),
      });
    }
    // A kept image keeps its parent chain (intermediate images of a build).
    tx.run(
      `INSERT OR IGNORE INTO temp.gc_images (id)
       SELECT id FROM (
         WITH RECURSIVE up(id) AS (
           SELECT id FROM temp.gc_images
           UNION SELECT i.parent_id FROM images i JOIN up ON i.id = up.id WHERE i.parent_id IS NOT NULL
         ) SELECT id FROM up
       ) WHERE id IS NOT @exclude`,
      { exclude },
    );
  }

  tx.run(`INSERT OR IGNORE INTO temp.gc_blobs (digest)
          SELECT e.digest FROM image_blobs e JOIN temp.gc_images g ON g.id = e.image_id`);
  // The manifest or index a RepoDigest names stays as long as the reference does.
  tx.run(`INSERT OR IGNORE INTO temp.gc_blobs (digest)
          SELECT d.digest FROM digest_refs d JOIN temp.gc_images g ON g.id = d.image_id`);
  for (const r of roots) {
    if (r.blobRootsSql === undefined) continue;
    tx.run(`INSERT OR IGNORE INTO temp.gc_blobs (digest) SELECT key FROM (${r.blobRootsSql})`, r.blobRootsSql.includes('@now') ? { now } : {});
  }

  tx.run(`INSERT OR IGNORE INTO temp.gc_snapshots (chain_id)
          SELECT s.chain_id FROM image_snapshots s JOIN temp.gc_images g ON g.id = s.image_id`);
  for (const r of roots) {
    if (r.snapshotRootsSql === undefined) continue;
    tx.run(
      `INSERT OR IGNORE INTO temp.gc_snapshots (chain_id) SELECT key FROM (${r.snapshotRootsSql})`,
      r.snapshotRootsSql.includes('@now') ? { now } : {},
    );
  }
  tx.run(
    `INSERT OR IGNORE INTO temp.gc_snapshots (chain_id)
     SELECT c FROM (
       WITH RECURSIVE up(c) AS (
         SELECT chain_id FROM temp.gc_snapshots
         UNION SELECT s.parent_chain_id FROM snapshots s JOIN up ON s.chain_id = up.c WHERE s.parent_chain_id IS NOT NULL
       ) SELECT c FROM up
     )`,
  );
}

/** Depth of each snapshot so deletions can be listed children first. */
const UNMARKED_SNAPSHOTS = `
  WITH RECURSIVE depth(c, d) AS (
    SELECT chain_id, 0 FROM snapshots WHERE parent_chain_id IS NULL
    UNION ALL SELECT s.chain_id, depth.d + 1 FROM snapshots s JOIN depth ON s.parent_chain_id = depth.c
  )
  SELECT s.chain_id, s.size FROM snapshots s LEFT JOIN depth ON depth.c = s.chain_id
  WHERE s.chain_id NOT IN (SELECT chain_id FROM temp.gc_snapshots)
  ORDER BY coalesce(depth.d, 0) DESC, s.chain_id`;

/**
 * Mark and sweep in the caller's transaction (architecture guide §4.7): expired leases are
 * dropped, unreachable rows deleted, and the blobs and snapshots whose FILES must go are returned.
 * Delete those files only after this transaction commits (rows first, files after), and check each
 * with `isLive` just before unlinking, since a concurrent pull may have re-recorded or leased it.
 */
export function collectGarbage(tx: Tx, now: number = tx.now, o: GcOptions = {}): GcResult {
  leases.expire(tx, now);
  if (o.only) return sweepCandidates(tx, now, o.roots ?? DEFAULT_ROOTS, o.only);
  const mode = o.images ?? 'all';
  mark(tx, now, mode, null, o.roots ?? DEFAULT_ROOTS);

  const deadImages =
    mode === 'all'
      ? []
      : tx
          .all<{ id: Digest }>(`SELECT id FROM images WHERE id NOT IN (SELECT id FROM temp.gc_images) ORDER BY id`)
          .map((r) => r.id);
  if (deadImages.length > 0) {
    tx.run(`DELETE FROM images WHERE id NOT IN (SELECT id FROM temp.gc_images)`);
  }

  const blobRows = tx.all<{ digest: Digest; size: number }>(
    `SELECT digest, size FROM blobs WHERE digest NOT IN (SELECT digest FROM temp.gc_blobs) ORDER BY digest`,
  );
  const deadBlobs = blobRows.map((r) => r.digest);
  let bytes = blobRows.reduce((n, r) => n + r.size, 0);
  if (deadBlobs.length > 0) tx.run(`DELETE FROM blobs WHERE digest NOT IN (SELECT digest FROM temp.gc_blobs)`);

  const snapRows = tx.all<{ chain_id: Digest; size: number }>(UNMARKED_SNAPSHOTS);
  const deadSnapshots = snapRows.map((r) => r.chain_id);
  bytes += snapRows.reduce((n, r) => n + r.size, 0);
  if (deadSnapshots.length > 0) {
    tx.run(`DELETE FROM snapshots WHERE chain_id NOT IN (SELECT chain_id FROM temp.gc_snapshots)`);
  }
  return { blobs: deadBlobs, snapshots: deadSnapshots, images: deadImages, bytes };
}

export interface RemovalPlan {
  /** Blobs only this image keeps alive (its manifest, config, unshared layers, index if unshared). */
  blobs: Digest[];
  /** Snapshots only this image keeps alive, top layer first: rmi's "Deleted: sha256:<chain id>" lines. */
  snapshots: Digest[];
  /** Sum of those snapshots' uncompressed sizes: the reclaimed space Docker reports. */
  snapshotBytes: number;
  blobBytes: number;
}

/**
 * What removing this image (its row and references) would free, without changing anything:
 * everything it reaches that no other image, digest reference or unexpired lease reaches.
 * Shared layers are not included.
 */
export function imageRemovalPlan(tx: Tx, imageId: string, now: number = tx.now, roots: readonly RootSource[] = DEFAULT_ROOTS): RemovalPlan {
  // Every other image stays a root, whatever the GC mode: removal is about this image alone.
  mark(tx, now, 'all', imageId, roots);
  const snaps = tx.all<{ chain_id: Digest; size: number }>(
    `SELECT s.chain_id, s.size FROM image_snapshots i JOIN snapshots s ON s.chain_id = i.chain_id
     WHERE i.image_id = ? AND s.chain_id NOT IN (SELECT chain_id FROM temp.gc_snapshots)
     ORDER BY i.position DESC`,
    imageId,
  );
  const blobRows = tx.all<{ digest: Digest; size: number }>(
    `SELECT DISTINCT b.digest, b.size FROM image_blobs e JOIN blobs b ON b.digest = e.digest
     WHERE e.image_id = ? AND b.digest NOT IN (SELECT digest FROM temp.gc_blobs)
     UNION
     SELECT b.digest, b.size FROM digest_refs d JOIN blobs b ON b.digest = d.digest
     WHERE d.image_id = ? AND b.digest NOT IN (SELECT digest FROM temp.gc_blobs)
     ORDER BY 1`,
    imageId,
    imageId,
  );
  return {
    blobs: blobRows.map((r) => r.digest),
    snapshots: snaps.map((r) => r.chain_id),
    snapshotBytes: snaps.reduce((n, r) => n + r.size, 0),
    blobBytes: blobRows.reduce((n, r) => n + r.size, 0),
  };
}

/**
 * May the file for this blob or snapshot be deleted right now? Only if no row records it and no
 * unexpired lease holds it. Call inside a `db.tx` and unlink inside the same transaction: the
 * write lock keeps a concurrent pull from leasing or re-recording it between check and unlink,
 * and a writer leases a digest before checking whether its file exists.
 */
export function isLive(tx: Tx, kind: 'blob' | 'snapshot', key: string, now: number = tx.now): boolean {
  const row =
    kind === 'blob'
      ? tx.get(`SELECT 1 FROM blobs WHERE digest = ?`, key)
      : tx.get(`SELECT 1 FROM snapshots WHERE chain_id = ?`, key);
  return row !== undefined || leases.isHeld(tx, kind, key, now);
}

/** The targeted sweep of `GcOptions.only`: the same liveness as mark(), asked per candidate. */
function sweepCandidates(tx: Tx, now: number, roots: readonly RootSource[], only: NonNullable<GcOptions['only']>): GcResult {
  const rooted = (sql: string | undefined, key: string): boolean =>
    sql !== undefined && tx.get(`SELECT 1 FROM (${sql}) WHERE key = @key LIMIT 1`, { key, ...(sql.includes('@now') ? { now } : {}) }) !== undefined;
  const out: GcResult = { blobs: [], snapshots: [], images: [], bytes: 0 };
  // A snapshot goes once nothing holds it, children included. Candidates come image by image, top
  // first, but a candidate can be the parent of one listed after it (an image and its pruned
  // parent image diverge above a shared layer): pass again while a pass deleted something, so
  // every parent follows its children, as the full sweep's depth order does.
  let pending = [...new Set(only.snapshots)];
  for (let progress = true; progress && pending.length > 0; ) {
    progress = false;
    const kept: string[] = [];
    for (const c of pending) {
      const row = tx.get<{ size: number }>(`SELECT size FROM snapshots WHERE chain_id = ?`, c);
      if (!row) continue;
      if (
        tx.get(`SELECT 1 FROM image_snapshots WHERE chain_id = ? LIMIT 1`, c) ||
        tx.get(`SELECT 1 FROM snapshots WHERE parent_chain_id = ? LIMIT 1`, c) ||
        roots.some((r) => rooted(r.snapshotRootsSql, c))
      ) {
        kept.push(c);
        continue;
      }
      tx.run(`DELETE FROM snapshots WHERE chain_id = ?`, c);
      out.snapshots.push(c as Digest);
      out.bytes += row.size;
      progress = true;
    }
    pending = kept;
  }
  for (const b of [...new Set(only.blobs)].sort()) {
    const row = tx.get<{ size: number }>(`SELECT size FROM blobs WHERE digest = ?`, b);
    if (!row) continue;
    if (tx.get(`SELECT 1 FROM image_blobs WHERE digest = ? LIMIT 1`, b)) continue;
    if (tx.get(`SELECT 1 FROM digest_refs WHERE digest = ? LIMIT 1`, b)) continue;
    if (roots.some((r) => rooted(r.blobRootsSql, b))) continue;
    tx.run(`DELETE FROM blobs WHERE digest = ?`, b);
    out.blobs.push(b as Digest);
    out.bytes += row.size;
  }
  return out;
}
