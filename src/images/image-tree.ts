import { snapshots, type Db } from '../metadata/index.js';
import { readMergedTree, type Snapshotter, type TreeEntry } from '../snapshot/index.js';
import { findImage } from './queries.js';

export type { TreeEntry };

/** The image's layers read as one filesystem: top layer wins, whiteouts and opaque dirs honoured. */
export async function readImageTree(db: Db, sn: Snapshotter, name: string): Promise<Map<string, TreeEntry>> {
  const image = findImage(db, name);
  const chain = db.read((tx) => snapshots.forImage(tx, image.id));
  const top = chain[chain.length - 1];
  if (!top) return new Map();
  return readMergedTree(sn, top.chainId);
}
