import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DirSnapshotter } from './dir-snapshotter.js';
import type { Mount, PrepareOptions, SnapshotInfo, SnapshotKind } from './types.js';

/**
 * Each snapshot is one layer's diff directory (`fs`), applied with overlay whiteouts (char 0/0
 * nodes, trusted.overlay.opaque); a snapshot is seen through an overlay mount whose lowerdir
 * lists its parents, top first, like containerd's overlayfs snapshotter. Needs root.
 */
export class OverlaySnapshotter extends DirSnapshotter {
  readonly kind = 'overlay' as const;
  readonly layersIndependent = true;
  readonly whiteouts = 'overlay' as const;

  protected async populate(snapDir: string, kind: SnapshotKind, _parent: string | undefined, _o: PrepareOptions): Promise<void> {
    if (kind === 'active') mkdirSync(join(snapDir, 'work'));
  }

  protected onCommit(snapDir: string): void {
    rmSync(join(snapDir, 'work'), { recursive: true, force: true });
  }

  protected async mountsFor(info: SnapshotInfo): Promise<Mount[]> {
    const parents = info.parent === undefined ? [] : await this.layers(info.parent);
    if (info.kind === 'view') {
      if (parents.length === 1) return [{ type: 'bind', source: parents[0]!, options: ['ro', 'rbind'] }];
      return [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${parents.join(':')}`] }];
    }
    const fs = this.applyDir(info.key);
    if (parents.length === 0) return [{ type: 'bind', source: fs, options: ['rw', 'rbind'] }];
    return [
      {
        type: 'overlay',
        source: 'overlay',
        options: [`workdir=${join(this.path(info.key), 'work')}`, `upperdir=${fs}`, `lowerdir=${parents.join(':')}`],
      },
    ];
  }
}
