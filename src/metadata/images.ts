import { LadingError } from '../errors/index.js';
import type { Digest, Platform } from '../oci/index.js';
import type { Tx } from './db.js';

export interface ImageTarget {
  digest: Digest;
  mediaType: string;
  size: number;
}

/** One image: Docker's image ID is the config digest; `target` is the manifest it came from. */
export interface ImageRecord {
  id: Digest;
  target: ImageTarget;
  /** Config `created` in unix ms; undefined when the config has none (Docker shows N/A). */
  created: number | undefined;
  /** Sum of the uncompressed sizes of all layers (behaviour §3.4). */
  size: number;
  platform: Platform;
  labels: Record<string, string>;
  addedAt: number;
  lastUsedAt: number | undefined;
  lastTagTime: number | undefined;
  parentId: Digest | undefined;
  /** Chain ID of the top layer: the snapshot a container's rootfs is prepared from. */
  topChainId: Digest | undefined;
}

export interface TagRef {
  repository: string;
  tag: string;
}
export interface DigestRef {
  repository: string;
  digest: Digest;
}

/** A listing row: the image plus its RepoTags and RepoDigests in Docker's (lexical) order. */
export interface ImageSummary extends ImageRecord {
  repoTags: TagRef[];
  repoDigests: DigestRef[];
}

/** A light listing row (`images`): what the table, filters and formats use. */
export interface ImageListEntry {
  id: Digest;
  created: number | undefined;
  size: number;
  labels: Record<string, string>;
  parentId: Digest | undefined;
  /** Last use, or when it was added. */
  lastUsedAt: number;
  repoTags: TagRef[];
  repoDigests: DigestRef[];
}

export interface ImageInput {
  id: Digest;
  target: ImageTarget;
  created?: number | undefined;
  /** Defaults to the sum of the recorded snapshot sizes of `chainIds`. */
  size?: number;
  platform: Platform;
  labels?: Record<string, string>;
  parentId?: Digest | undefined;
  /** Layer blob digests in manifest order. Every blob (manifest, config, layers) must be recorded first. */
  layers: readonly Digest[];
  /** Snapshot chain IDs, bottom first; each must be recorded first. */
  chainIds: readonly Digest[];
  /** Index(es) this image was pulled through; added to those already recorded, never removed by put. */
  indexes?: readonly Digest[];
}

export type ImageBlobRole = 'index' | 'manifest' | 'config' | 'layer';
export interface ImageBlobEdge {
  role: ImageBlobRole;
  position: number;
  digest: Digest;
}

interface ImageRow {
  id: string;
  target_digest: string;
  target_media_type: string;
  target_size: number;
  created: number | null;
  size: number;
  os: string;
  architecture: string;
  variant: string | null;
  labels_json: string;
  added_at: number;
  last_used_at: number | null;
  last_tag_time: number | null;
  parent_id: string | null;
  top_chain_id: string | null;
}

const COLUMNS = `id, target_digest, target_media_type, target_size, created, size, os, architecture, variant,
  labels_json, added_at, last_used_at, last_tag_time, parent_id, top_chain_id`;

const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

function toImage(r: ImageRow): ImageRecord {
  const platform: Platform = { os: r.os, architecture: r.architecture };
  if (r.variant !== null) platform.variant = r.variant;
  return {
    id: r.id as Digest,
    target: { digest: r.target_digest as Digest, mediaType: r.target_media_type, size: r.target_size },
    created: opt(r.created),
    size: r.size,
    platform,
    labels: JSON.parse(r.labels_json) as Record<string, string>,
    addedAt: r.added_at,
    lastUsedAt: opt(r.last_used_at),
    lastTagTime: opt(r.last_tag_time),
    parentId: opt(r.parent_id) as Digest | undefined,
    topChainId: opt(r.top_chain_id) as Digest | undefined,
  };
}

// Docker sorts RepoTags/RepoDigests by the full reference string (reference store lexicalRefs),
// which differs from (repository, tag) order when one repository name prefixes another.
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const TAG_ORDER = `repository || ':' || tag`;
const DIGEST_ORDER = `repository || '@' || digest`;

/** Docker's image store: image rows and their blob and snapshot edges. */
export const images = {
  find(tx: Tx, id: string): ImageRecord | undefined {
    const r = tx.get<ImageRow>(`SELECT ${COLUMNS} FROM images WHERE id = ?`, id);
    return r && toImage(r);
  },

  /**
   * The one image whose ID starts with `prefix` (hex, with or without "sha256:"); undefined when
   * none or several match (Docker reports an ambiguous prefix as not found, behaviour §1.6).
   */
  findByIdPrefix(tx: Tx, prefix: string): ImageRecord | undefined {
    const hex = prefix.startsWith('sha256:') ? prefix.slice(7) : prefix;
    if (!/^[0-9a-f]{1,64}$/.test(hex)) return undefined;
    // A range scan on the primary key: every character after the prefix is hex, all below 'g'.
    const lo = `sha256:${hex}`;
    const rows = tx.all<ImageRow>(`SELECT ${COLUMNS} FROM images WHERE id >= ? AND id < ? ORDER BY id LIMIT 2`, lo, `${lo}g`);
    return rows.length === 1 ? toImage(rows[0]!) : undefined;
  },

  /** The image whose target is this manifest digest. */
  findByTarget(tx: Tx, manifestDigest: string): ImageRecord | undefined {
    const r = tx.get<ImageRow>(`SELECT ${COLUMNS} FROM images WHERE target_digest = ? ORDER BY id LIMIT 1`, manifestDigest);
    return r && toImage(r);
  },

  /**
   * Insert, or update an image pulled again (same config, maybe another manifest). Keeps added_at,
   * last_used_at and last_tag_time; replaces manifest/config/layer and snapshot edges; merges
   * index edges. Returns true when the image is new.
   */
  put(tx: Tx, img: ImageInput, now: number = tx.now): boolean {
    const existed = tx.get(`SELECT 1 FROM images WHERE id = ?`, img.id) !== undefined;
    let size = img.size;
    if (size === undefined) {
      size = 0;
      for (const c of img.chainIds) {
        const s = tx.get<{ size: number }>(`SELECT size FROM snapshots WHERE chain_id = ?`, c);
        if (s === undefined) throw new LadingError('INTERNAL', `image ${img.id}: snapshot ${c} is not recorded`);
        size += s.size;
      }
    }
    tx.run(
      `INSERT INTO images (${COLUMNS}) VALUES
         (@id, @target_digest, @target_media_type, @target_size, @created, @size, @os, @architecture, @variant,
          @labels_json, @added_at, NULL, NULL, @parent_id, @top_chain_id)
       ON CONFLICT (id) DO UPDATE SET
         target_digest = excluded.target_digest, target_media_type = excluded.target_media_type,
         target_size = excluded.target_size, created = excluded.created, size = excluded.size,
         os = excluded.os, architecture = excluded.architecture, variant = excluded.variant,
         labels_json = excluded.labels_json, parent_id = excluded.parent_id, top_chain_id = excluded.top_chain_id`,
      {
        id: img.id,
        target_digest: img.target.digest,
        target_media_type: img.target.mediaType,
        target_size: img.target.size,
        created: img.created ?? null,
        size,
        os: img.platform.os,
        architecture: img.platform.architecture,
        variant: img.platform.variant ?? null,
        labels_json: JSON.stringify(img.labels ?? {}),
        added_at: now,
        parent_id: img.parentId ?? null,
        top_chain_id: img.chainIds.at(-1) ?? null,
      },
    );
    tx.run(`DELETE FROM image_blobs WHERE image_id = ? AND role <> 'index'`, img.id);
    tx.run(`DELETE FROM image_snapshots WHERE image_id = ?`, img.id);
    const edge = `INSERT OR IGNORE INTO image_blobs (image_id, role, position, digest) VALUES (?, ?, ?, ?)`;
    tx.run(edge, img.id, 'manifest', 0, img.target.digest);
    tx.run(edge, img.id, 'config', 0, img.id);
    img.layers.forEach((d, i) => tx.run(edge, img.id, 'layer', i, d));
    for (const d of img.indexes ?? []) tx.run(edge, img.id, 'index', 0, d);
    img.chainIds.forEach((c, i) =>
      tx.run(`INSERT INTO image_snapshots (image_id, position, chain_id) VALUES (?, ?, ?)`, img.id, i, c),
    );
    return !existed;
  },

  /** Record use (a container created from it, a pull that found it present), for df and prune ordering. */
  touch(tx: Tx, id: string, now: number = tx.now): void {
    tx.run(`UPDATE images SET last_used_at = ? WHERE id = ?`, now, id);
  },

  /** `docker tag` updates Metadata.LastTagTime (behaviour §5); a pull does not. */
  setLastTagTime(tx: Tx, id: string, now: number = tx.now): void {
    tx.run(`UPDATE images SET last_tag_time = ? WHERE id = ?`, now, id);
  },

  /**
   * What `images` needs, cheaply: no manifest or platform columns, tags and digests joined per
   * image by SQLite (one row per image instead of one per tag: at 10k images and 50k tags the
   * row objects, not the query, dominate). References come in Docker's order.
   */
  listForDisplay(tx: Tx): ImageListEntry[] {
    const rows = tx.all<{
      id: Digest;
      created: number | null;
      size: number;
      labels_json: string;
      parent_id: Digest | null;
      last_used: number;
      tags: string | null;
      digests: string | null;
    }>(
      `SELECT i.id, i.created, i.size, i.labels_json, i.parent_id, coalesce(i.last_used_at, i.added_at) AS last_used,
         (SELECT group_concat(repository || char(9) || tag, char(10)) FROM
            (SELECT repository, tag FROM tags WHERE image_id = i.id ORDER BY ${TAG_ORDER})) AS tags,
         (SELECT group_concat(repository || char(9) || digest, char(10)) FROM
            (SELECT repository, digest FROM digest_refs WHERE image_id = i.id ORDER BY ${DIGEST_ORDER})) AS digests
       FROM images i ORDER BY i.created DESC, i.id`,
    );
    const out = new Array<ImageListEntry>(rows.length);
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k]!;
      const repoTags: TagRef[] = [];
      if (r.tags !== null) {
        for (const line of r.tags.split('\n')) {
          const tab = line.indexOf('\t');
          repoTags.push({ repository: line.slice(0, tab), tag: line.slice(tab + 1) });
        }
      }
      const repoDigests: DigestRef[] = [];
      if (r.digests !== null) {
        for (const line of r.digests.split('\n')) {
          const tab = line.indexOf('\t');
          repoDigests.push({ repository: line.slice(0, tab), digest: line.slice(tab + 1) as Digest });
        }
      }
      out[k] = {
        id: r.id,
        created: opt(r.created),
        size: r.size,
        labels: r.labels_json === '{}' ? {} : (JSON.parse(r.labels_json) as Record<string, string>),
        parentId: opt(r.parent_id) ?? undefined,
        lastUsedAt: r.last_used,
        repoTags,
        repoDigests,
      };
    }
    return out;
  },

  /** All images, newest `created` first (no created last), each with its tags and digests. */
  list(tx: Tx): ImageSummary[] {
    const out: ImageSummary[] = [];
    const byId = new Map<string, ImageSummary>();
    for (const r of tx.all<ImageRow>(`SELECT ${COLUMNS} FROM images ORDER BY created DESC, id`)) {
      const s: ImageSummary = { ...toImage(r), repoTags: [], repoDigests: [] };
      out.push(s);
      byId.set(s.id, s);
    }
    // One row per (image, repository) with its tags joined, scanned in index order (tags sorted
    // within a repository): at 50k tags this is several times cheaper than a row per tag.
    const multi = new Set<ImageSummary>();
    for (const t of tx.all<{ image_id: string; repository: string; tags: string }>(
      `SELECT image_id, repository, group_concat(tag, char(10)) AS tags FROM tags GROUP BY image_id, repository`,
    )) {
      const s = byId.get(t.image_id);
      if (!s) continue;
      if (s.repoTags.length > 0) multi.add(s);
      for (const tag of t.tags.split('\n')) s.repoTags.push({ repository: t.repository, tag });
    }
    for (const d of tx.all<{ repository: string; digest: string; image_id: string }>(
      `SELECT repository, digest, image_id FROM digest_refs`,
    )) {
      const s = byId.get(d.image_id);
      if (!s) continue;
      if (s.repoDigests.length > 0) multi.add(s);
      s.repoDigests.push({ repository: d.repository, digest: d.digest as Digest });
    }
    // Docker's order is by full reference string; names are ASCII, so JS code-unit order equals
    // SQLite's BINARY order used by forImage.
    for (const s of multi) {
      if (s.repoTags.length > 1) s.repoTags.sort((a, b) => cmp(`${a.repository}:${a.tag}`, `${b.repository}:${b.tag}`));
      if (s.repoDigests.length > 1) {
        s.repoDigests.sort((a, b) => cmp(`${a.repository}@${a.digest}`, `${b.repository}@${b.digest}`));
      }
    }
    return out;
  },

  count(tx: Tx): number {
    return tx.get<{ n: number }>(`SELECT count(*) AS n FROM images`)!.n;
  },

  /** Images whose parent is `id` (rmi refuses to delete an image with children, behaviour §6.2). */
  children(tx: Tx, id: string): Digest[] {
    return tx
      .all<{ id: string }>(`SELECT id FROM images WHERE parent_id = ? ORDER BY id`, id)
      .map((r) => r.id as Digest);
  },

  /** Blob edges: index(es), manifest, config, layers in order. */
  blobs(tx: Tx, id: string): ImageBlobEdge[] {
    return tx
      .all<{ role: ImageBlobRole; position: number; digest: string }>(
        `SELECT role, position, digest FROM image_blobs WHERE image_id = ?
         ORDER BY CASE role WHEN 'index' THEN 0 WHEN 'manifest' THEN 1 WHEN 'config' THEN 2 ELSE 3 END, position, digest`,
        id,
      )
      .map((r) => ({ role: r.role, position: r.position, digest: r.digest as Digest }));
  },

  /**
   * Delete the image row with all its references and edges (rows only: the caller runs GC or
   * uses `imageRemovalPlan` first, then deletes files after commit). Children keep existing with
   * no parent. Returns the references removed, for "Untagged:" lines; undefined if absent.
   */
  remove(tx: Tx, id: string): { tags: TagRef[]; digests: DigestRef[] } | undefined {
    if (tx.get(`SELECT 1 FROM images WHERE id = ?`, id) === undefined) return undefined;
    const tags = tx.all<TagRef>(`SELECT repository, tag FROM tags WHERE image_id = ? ORDER BY ${TAG_ORDER}`, id);
    const digests = tx.all<DigestRef>(
      `SELECT repository, digest FROM digest_refs WHERE image_id = ? ORDER BY ${DIGEST_ORDER}`,
      id,
    );
    tx.run(`DELETE FROM tags WHERE image_id = ?`, id);
    tx.run(`DELETE FROM digest_refs WHERE image_id = ?`, id);
    tx.run(`DELETE FROM images WHERE id = ?`, id);
    return { tags, digests };
  },
};
