import type { ContentStore } from '../content/index.js';
import { images, resolveImage, snapshots, tags, type Db } from '../metadata/index.js';
import { parseImageConfig, type Digest } from '../oci/index.js';
import { familiarRepository } from './list-rows.js';
import { noSuchImage, parseName, readConfigSync } from './queries.js';

/** One row of `docker history`, newest first (Engine API GET /images/{name}/history). */
export interface HistoryItem {
  /** The image for the rows the local parent chain covers, then `<missing>`. */
  id: Digest | '<missing>';
  /** Unix ms; undefined when the entry has no `created`. */
  created: number | undefined;
  createdBy: string;
  comment: string;
  /** Bytes of the layer the entry created; 0 for `empty_layer` entries. */
  size: number;
  /** Familiar tags of that image. */
  tags: string[];
}

/**
 * The daemon's ImageHistory: one item per config history entry; entries without `empty_layer`
 * take the next layer's size in order; then IDs are filled from the top down along the local
 * Parent chain while it lasts.
 */
export function imageHistory(db: Db, content: ContentStore, name: string): HistoryItem[] {
  const { image, layers } = db.read((tx) => {
    const found = resolveImage(tx, name, parseName);
    if (!found) throw noSuchImage(name);
    return { image: found.image, layers: snapshots.forImage(tx, found.image.id) };
  });
  const config = parseImageConfig(readConfigSync(content, image.id));
  const items: HistoryItem[] = [];
  let layer = 0;
  for (const h of config.history ?? []) {
    let size = 0;
    if (!h.empty_layer) size = layers[layer++]?.size ?? 0;
    const t = h.created ? Date.parse(h.created) : NaN;
    items.unshift({
      id: '<missing>',
      created: Number.isNaN(t) ? undefined : t,
      createdBy: h.created_by ?? '',
      comment: h.comment ?? '',
      size,
      tags: [],
    });
  }
  db.read((tx) => {
    let cur: Digest | undefined = image.id;
    for (const item of items) {
      if (cur === undefined) break;
      item.id = cur;
      item.tags = tags.forImage(tx, cur).map((r) => `${familiarRepository(r.repository)}:${r.tag}`);
      cur = images.find(tx, cur)?.parentId;
      if (cur !== undefined && !images.find(tx, cur)) break;
    }
  });
  return items;
}
