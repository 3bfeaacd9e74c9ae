import { cloneTree } from './clone-tree.js';
import { DirSnapshotter } from './dir-snapshotter.js';
import type { Mount, PrepareOptions, SnapshotInfo, SnapshotKind } from './types.js';

/**
 * Each snapshot is a full tree: a clone of the parent's tree, then the layer applied with
 * whiteouts:'delete'. Extraction clones by hardlinks (applyLayer unlinks before writing, so
 * the parent's inodes are never written); a container's writable layer gets a real copy.
 * Works without root and on any filesystem.
 */
export class NativeSnapshotter extends DirSnapshotter {
  readonly kind = 'native' as const;
  readonly layersIndependent = false;
  readonly whiteouts = 'delete' as const;

  protected async populate(snapDir: string, kind: SnapshotKind, parent: string | undefined, o: PrepareOptions): Promise<void> {
    if (parent === undefined) return;
    cloneTree(this.applyDir(parent), `${snapDir}/fs`, {
      mode: kind === 'view' || o.extract === true ? 'hardlink' : 'copy',
      asRoot: this.asRoot,
      signal: o.signal,
    });
  }

  protected onCommit(): void {}

  protected async mountsFor(info: SnapshotInfo): Promise<Mount[]> {
    const ro = info.kind === 'view';
    return [{ type: 'bind', source: this.applyDir(info.key), options: [ro ? 'ro' : 'rw', 'rbind'] }];
  }
}
