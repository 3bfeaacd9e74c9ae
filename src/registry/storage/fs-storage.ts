import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isDigest } from '../../oci/index.js';
import { FsBlobStore } from './fs-blobs.js';
import { FsPaths } from './fs-paths.js';
import { FsRepoIndex } from './fs-repos.js';
import { FsUploadStore } from './fs-uploads.js';
import type { RegistryStorage } from './types.js';

/** The filesystem backend: everything under one root directory on one filesystem. */
export class FsRegistryStorage implements RegistryStorage {
  readonly paths: FsPaths;
  readonly blobs: FsBlobStore;
  readonly uploads: FsUploadStore;
  readonly repos: FsRepoIndex;

  constructor(readonly root: string) {
    this.paths = new FsPaths(root);
    this.blobs = new FsBlobStore(this.paths);
    this.uploads = new FsUploadStore(this.paths);
    this.repos = new FsRepoIndex(this.paths);
  }

  /** Create the directories and clear the trash a crashed process left (cheap, idempotent). */
  async init(): Promise<void> {
    for (const d of [this.paths.blobsDir, this.paths.uploadsDir, this.paths.reposDir, this.paths.tmpDir]) await mkdir(d, { recursive: true });
    for (const name of await readdir(this.paths.tmpDir)) {
      const p = join(this.paths.tmpDir, name);
      // gc-<algo>-<hex>-<rand>: a blob a collector had set aside when it died. It may have been
      // touched just before, so put it back; the next collection decides again.
      const m = /^gc-([a-z0-9]+)-([0-9a-f]+)-[0-9a-f]+$/.exec(name);
      const d = m ? `${m[1]}:${m[2]}` : undefined;
      if (d && isDigest(d)) {
        const target = this.paths.blob(d);
        const present = await stat(target).then(() => true, () => false);
        if (!present) {
          await mkdir(dirname(target), { recursive: true });
          await rename(p, target);
          continue;
        }
      }
      await rm(p, { recursive: true, force: true });
    }
  }
}
