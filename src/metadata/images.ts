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

/**
 * A light listing row (`images`): what the table, filters and formats use. Its shape is the
 * images module's ListedImage, so a listing goes to callers without another copy.
 */
export interface ImageListEntry {
  id: Digest;
  created: number | undefined;
  size: number;
  labels: Record<string, string>;
  parentId: Digest | undefined;
  /** Another image names this one as its parent (an intermediate image when untagged). */
  hasChildren: boolean;
  /** Last use, or when it was added. */
  lastUsedAt: number;
  /** RepoTags and RepoDigests in Docker's order (lexical by full reference string). */
  tags: TagRef[];
  digests: DigestRef[];
}

/**
 * An image's references of one kind, packed in its row (`tags_packed`, `digests_packed`, kept by
 * migration 3's triggers): one group per repository, in repository order, each
 * `repository\nref\nref…` with its refs (tags or digests) in order, groups separated by `\v`;
 * '' when there are none. Names, tags and digests never contain either separator (reference
 * grammar). Read it with `refGroups`.
 */
export type PackedRefs = string;

/** A listing row with its references packed: no object per reference, for 50k-row tables. */
export interface PackedImage {
  id: Digest;
  created: number | undefined;
  size: number;
  parentId: Digest | undefined;
  tags: PackedRefs;
  digests: PackedRefs;
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
const TAG_ORDER = `repository || ':' || tag`;
const DIGEST_ORDER = `repository || '@' || digest`;

/**
 * The groups of packed references, each `[repository, ref, ref…]` (tags or digests), repositories
 * ascending and refs ascending within each. The pack is built in that order by subqueries whose
 * order SQLite follows but does not promise, so it is checked (and sorted when needed).
 */
export function refGroups(packed: PackedRefs): string[][] {
  if (packed === '') return [];
  const groups = packed.indexOf('\v') < 0 ? [packed] : packed.split('\v');
  const out = new Array<string[]>(groups.length);
  let sorted = true;
  for (let g = 0; g < groups.length; g++) {
    const refs = groups[g]!.split('\n');
    for (let k = 2; k < refs.length; k++) {
      if (refs[k]! < refs[k - 1]!) {
        const repository = refs.shift()!;
        refs.sort().unshift(repository);
        break;
      }
    }
    if (g > 0 && refs[0]! < out[g - 1]![0]!) sorted = false;
    out[g] = refs;
  }
  return sorted ? out : out.sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
}

/** References from packed ones, an object each, in Docker's order (by full reference string). */
function unpackRefs<T>(packed: PackedRefs | undefined, make: (repository: string, ref: string) => T, sep: string): T[] {
  if (packed === undefined) return [];
  const groups = refGroups(packed);
  if (groups.length === 1) {
    const refs = groups[0]!;
    const out = new Array<T>(refs.length - 1);
    for (let k = 1; k < refs.length; k++) out[k - 1] = make(refs[0]!, refs[k]!);
    return out;
  }
  // Groups come in repository order; Docker's is by full reference ("a-b:1" before "a:1").
  const full: string[] = [];
  const byFull = new Map<string, T>();
  for (const refs of groups) {
    for (let k = 1; k < refs.length; k++) {
      const f = `${refs[0]!}${sep}${refs[k]!}`;
      full.push(f);
      byFull.set(f, make(refs[0]!, refs[k]!));
    }
  }
  return full.sort().map((f) => byFull.get(f)!);
}

const tagRef = (repository: string, tag: string): TagRef => ({ repository, tag });
const digestRef = (repository: string, digest: string): DigestRef => ({ repository, digest: digest as Digest });

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
   * `images` with its references packed (see PackedRefs): one scan of the image rows, no object
   * per reference. Newest first.
   */
  listPacked(tx: Tx): PackedImage[] {
    const rows = tx.raw<[Digest, number | null, number, Digest | null, PackedRefs, PackedRefs]>(
      `SELECT id, created, size, parent_id, tags_packed, digests_packed FROM images ORDER BY created DESC, id`,
    );
    const out = new Array<PackedImage>(rows.length);
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k]!;
      out[k] = { id: r[0], created: r[1] ?? undefined, size: r[2], parentId: r[3] ?? undefined, tags: r[4], digests: r[5] };
    }
    return out;
  },

  /**
   * What `images` filters and formats need: the packed listing's scan, with an object per
   * reference, RepoTags and RepoDigests in Docker's order (lexical by full reference string).
   */
  listForDisplay(tx: Tx): ImageListEntry[] {
    const rows = tx.raw<[Digest, number | null, number, string, Digest | null, number, PackedRefs, PackedRefs]>(
      `SELECT id, created, size, labels_json, parent_id, coalesce(last_used_at, added_at), tags_packed, digests_packed
       FROM images ORDER BY created DESC, id`,
    );
    const out = new Array<ImageListEntry>(rows.length);
    let parents: string[] | undefined;
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k]!;
      const parentId = r[4] ?? undefined;
      if (parentId !== undefined) (parents ??= []).push(parentId);
      const e: ImageListEntry = {
        id: r[0],
        created: r[1] ?? undefined,
        size: r[2],
        labels: r[3] === '{}' ? {} : (JSON.parse(r[3]) as Record<string, string>),
        parentId,
        hasChildren: false,
        lastUsedAt: r[5],
        tags: unpackRefs(r[6], tagRef, ':'),
        digests: unpackRefs(r[7], digestRef, '@'),
      };
      out[k] = e;
    }
    if (parents !== undefined) {
      const byId = new Map<string, ImageListEntry>();
      for (const e of out) byId.set(e.id, e);
      for (const p of parents) {
        const e = byId.get(p);
        if (e !== undefined) e.hasChildren = true;
      }
    }
    return out;
  },

  /** All images, newest `created` first (no created last), each with its tags and digests. */
  list(tx: Tx): ImageSummary[] {
    return tx
      .all<ImageRow & { tags_packed: PackedRefs; digests_packed: PackedRefs }>(
        `SELECT ${COLUMNS}, tags_packed, digests_packed FROM images ORDER BY created DESC, id`,
      )
      .map((r) => ({ ...toImage(r), repoTags: unpackRefs(r.tags_packed, tagRef, ':'), repoDigests: unpackRefs(r.digests_packed, digestRef, '@') }));
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
    // The row goes too: stop the triggers repacking its references once per reference removed.
    tx.run(`UPDATE images SET tags_packed = NULL, digests_packed = NULL WHERE id = ?`, id);
    tx.run(`DELETE FROM tags WHERE image_id = ?`, id);
    tx.run(`DELETE FROM digest_refs WHERE image_id = ?`, id);
    tx.run(`DELETE FROM images WHERE id = ?`, id);
    return { tags, digests };
  },
};
