/** What a runtime mounts to see a snapshot (containerd's mount.Mount, cut down). */
export interface Mount {
  type: 'overlay' | 'bind';
  source: string;
  options: string[];
}

export type SnapshotKind = 'active' | 'view' | 'committed';

export interface SnapshotInfo {
  key: string;
  kind: SnapshotKind;
  parent?: string | undefined;
  created: Date;
  /** for committed layers: sum of regular file sizes the layer wrote (applyLayer's `size`) */
  size?: number | undefined;
}

export interface PrepareOptions {
  signal?: AbortSignal | undefined;
  /**
   * The snapshot will only be written by applyLayer, which unlinks before writing: the native
   * snapshotter may then hardlink the parent's files instead of copying them. Never set it for
   * a container's writable layer (a process writing in place would change the parent).
   */
  extract?: boolean | undefined;
}

/**
 * Snapshots after containerd's Snapshotter (core/snapshots/snapshotter.go).
 *
 * Lifecycle: `prepare(key, parent?)` creates an *active* snapshot, writable, on top of the
 * committed `parent`; `view(key, parent)` a read-only one. A layer is applied into
 * `applyDir(key)` of an active snapshot, then `commit(name, key)` turns it into the committed
 * snapshot `name` (layers are named by chain ID) and `key` ceases to exist. Committed
 * snapshots are immutable and are only used as parents. `remove` refuses a snapshot that is
 * the parent of another. Keys are opaque strings; the snapshotter keeps its own small state on
 * disk (one `info.json` per snapshot), the metadata store records the rows.
 */
export interface Snapshotter {
  readonly kind: 'overlay' | 'native';
  /** The whiteout style applyLayer must use for snapshots of this snapshotter. */
  readonly whiteouts: 'overlay' | 'delete';
  /**
   * Layers can be applied before their parent is committed (overlay: each layer is a directory
   * of its own): `prepare(key, parent, {extract: true})` then accepts a parent that does not
   * exist yet, and `commit` refuses until it is committed. Native snapshots copy the parent's
   * tree, so there a layer must wait for its parent.
   */
  readonly layersIndependent: boolean;
  prepare(key: string, parent?: string, o?: PrepareOptions): Promise<Mount[]>;
  view(key: string, parent: string, o?: PrepareOptions): Promise<Mount[]>;
  /** Mounts of an active snapshot or view; INVALID_ARGUMENT for a committed one. */
  mounts(key: string): Promise<Mount[]>;
  /** The directory a layer is applied into for the active snapshot `key`. */
  applyDir(key: string): string;
  /** Active `key` becomes committed `name`. ALREADY_EXISTS if `name` exists (callers may treat that as success). */
  commit(name: string, key: string, o?: { size?: number; signal?: AbortSignal }): Promise<void>;
  stat(key: string): Promise<SnapshotInfo | undefined>;
  remove(key: string): Promise<void>;
  /**
   * Synchronously move the committed snapshot `key` out of sight, so a caller can do it inside a
   * metadata transaction together with its liveness check (GC), and return what deletes the moved
   * directory; undefined when there is no such snapshot. Unlike remove() it does not look for
   * children: the caller removes children first.
   */
  detach(key: string): (() => Promise<void>) | undefined;
  usage(key: string): Promise<{ bytes: number; inodes: number }>;
  walk(): AsyncIterable<SnapshotInfo>;
  /** Backing directories of `key`, top first: overlay, its layer and its ancestors'; native, its tree. */
  layers(key: string): Promise<string[]>;
}
