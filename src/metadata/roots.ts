import type { Tx } from './db.js';

/** Something besides a reference that holds an image: rmi and prune must respect it. */
export interface ImageUser {
  kind: 'container';
  /** Full ID; messages show its first 12 characters. */
  id: string;
  running: boolean;
}

/**
 * A pluggable source of GC roots and image users. GC marks from every source the engine
 * registers; rmi and prune ask every source who uses an image. Containers (a later issue) add
 * one source, e.g.
 *   { imageRootsSql: `SELECT image_id AS id FROM containers`,
 *     snapshotRootsSql: `SELECT parent_chain_id AS key FROM containers`,
 *     users: (tx, id) => tx.all(`SELECT id, running FROM containers WHERE image_id = ?`, id)… }
 * and nothing else in GC, rmi or prune changes.
 */
export interface RootSource {
  readonly name: string;
  /** SQL selecting image IDs (column `id`) to keep even without a reference. `@now` may be used. */
  readonly imageRootsSql?: string;
  /** SQL selecting snapshot chain IDs (column `key`) to keep. `@now` may be used. */
  readonly snapshotRootsSql?: string;
  /** SQL selecting blob digests (column `key`) to keep. `@now` may be used. */
  readonly blobRootsSql?: string;
  /** Who uses this image (containers), for rmi's and prune's conflicts. */
  users?(tx: Tx, imageId: string): ImageUser[];
}

/** Tags and digest references keep their images (Docker's reference store). */
export const REFERENCE_ROOTS: RootSource = {
  name: 'references',
  imageRootsSql: `SELECT image_id AS id FROM tags UNION SELECT image_id AS id FROM digest_refs`,
};

/** Unexpired leases keep what transfers in progress rely on (a layer being pulled is never collected). */
export const LEASE_ROOTS: RootSource = {
  name: 'leases',
  snapshotRootsSql: `SELECT r.key AS key FROM lease_resources r JOIN leases l ON l.id = r.lease_id WHERE r.kind = 'snapshot' AND l.expires_at > @now`,
  blobRootsSql: `SELECT r.key AS key FROM lease_resources r JOIN leases l ON l.id = r.lease_id WHERE r.kind = 'blob' AND l.expires_at > @now`,
};

export const DEFAULT_ROOTS: readonly RootSource[] = [REFERENCE_ROOTS, LEASE_ROOTS];

/** Every user of the image across the sources. */
export function imageUsers(tx: Tx, roots: readonly RootSource[], imageId: string): ImageUser[] {
  return roots.flatMap((r) => r.users?.(tx, imageId) ?? []);
}
