import { imageUsers, images, leases, type Db, type RootSource } from '../metadata/index.js';
import type { Digest } from '../oci/index.js';
import { familiarRepository } from './list-rows.js';

/** One image of `system df -v`. Sizes are disk bytes: its unpacked layers plus its blobs. */
export interface ImageDiskUsage {
  id: Digest;
  /** First tag, familiar; `<none>` for untagged images (Docker's df -v). */
  repository: string;
  tag: string;
  created: number | undefined;
  size: number;
  /** Bytes also held by another image or a transfer in progress. */
  sharedSize: number;
  /** size - sharedSize: exactly what removing this image alone frees. */
  uniqueSize: number;
  containers: number;
}

export interface DiskUsage {
  images: ImageDiskUsage[];
  /** Every recorded blob and layer once. */
  totalBytes: number;
  /** Images a container uses. */
  active: number;
  /** Bytes no image in use reaches. */
  reclaimableBytes: number;
}

/**
 * Shared and unique sizes from the layer graph: each snapshot and blob is counted once per image
 * reaching it (image_snapshots holds every layer of the chain; blobs by edge or digest
 * reference); a leased one counts as shared. Unique bytes are those with exactly one image.
 */
export function diskUsage(db: Db, roots: readonly RootSource[]): DiskUsage {
  return db.read((tx) => {
    const all = images.list(tx);
    const parents = new Set(all.map((i) => i.parentId).filter((p) => p !== undefined));
    const holders = new Map<string, { size: number; images: Digest[] }>();
    const add = (key: string, size: number, id: Digest) => {
      const h = holders.get(key);
      if (h === undefined) holders.set(key, { size, images: [id] });
      else if (h.images.at(-1) !== id) h.images.push(id); // rows come ordered by image
    };
    for (const r of tx.all<{ image_id: Digest; chain_id: string; size: number }>(
      `SELECT i.image_id, i.chain_id, s.size FROM image_snapshots i JOIN snapshots s ON s.chain_id = i.chain_id ORDER BY i.image_id`,
    )) {
      add(`s:${r.chain_id}`, r.size, r.image_id);
    }
    for (const r of tx.all<{ image_id: Digest; digest: string; size: number }>(
      `SELECT e.image_id, e.digest, b.size FROM (SELECT image_id, digest FROM image_blobs UNION SELECT image_id, digest FROM digest_refs) e
       JOIN blobs b ON b.digest = e.digest ORDER BY e.image_id`,
    )) {
      add(`b:${r.digest}`, r.size, r.image_id);
    }
    const leased = new Set([...leases.heldKeys(tx, 'snapshot').map((k) => `s:${k}`), ...leases.heldKeys(tx, 'blob').map((k) => `b:${k}`)]);
    const per = new Map<string, { size: number; shared: number }>();
    for (const [key, h] of holders) {
      const shared = h.images.length > 1 || leased.has(key);
      for (const id of h.images) {
        const p = per.get(id) ?? { size: 0, shared: 0 };
        p.size += h.size;
        if (shared) p.shared += h.size;
        per.set(id, p);
      }
    }
    const totalBytes =
      tx.get<{ n: number }>(`SELECT (SELECT coalesce(sum(size), 0) FROM blobs) + (SELECT coalesce(sum(size), 0) FROM snapshots) AS n`)!.n;
    const usedKeys = new Set<string>();
    const out: ImageDiskUsage[] = [];
    let active = 0;
    for (const img of all) {
      const untagged = img.repoTags.length === 0;
      if (untagged && img.repoDigests.length === 0 && parents.has(img.id)) continue; // intermediate
      const containers = imageUsers(tx, roots, img.id).length;
      if (containers > 0) {
        active++;
        for (const [key, h] of holders) if (h.images.includes(img.id)) usedKeys.add(key);
      }
      const p = per.get(img.id) ?? { size: 0, shared: 0 };
      const first = img.repoTags[0];
      out.push({
        id: img.id,
        repository: first ? familiarRepository(first.repository) : '<none>',
        tag: first ? first.tag : '<none>',
        created: img.created,
        size: p.size,
        sharedSize: p.shared,
        uniqueSize: p.size - p.shared,
        containers,
      });
    }
    let used = 0;
    for (const k of usedKeys) used += holders.get(k)!.size;
    return { images: out, totalBytes, active, reclaimableBytes: totalBytes - used };
  });
}
