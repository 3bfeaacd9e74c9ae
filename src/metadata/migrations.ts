/**
 * Numbered schema migrations: MIGRATIONS[n] takes `user_version` n to n+1. Append only, never edit
 * a released entry (a store opened by an older build must still migrate the same way).
 *
 * Conventions: times are unix milliseconds (INTEGER); digests are "sha256:<hex>" TEXT; repository
 * names are full names ("docker.io/library/busybox"), tags and digests plain strings.
 * References are edge tables, never labels (architecture guide §4.7).
 *
 * Adding containers later (issue: containers): a migration creates
 *   containers(id PK, image_id REFERENCES images(id), snapshot_key, ...)
 * and gc.ts adds `SELECT image_id FROM containers` to IMAGE_ROOT_QUERIES (and the container's
 * active snapshot to SNAPSHOT_ROOT_QUERIES); nothing else in GC changes.
 */
export const MIGRATIONS: readonly string[] = [
  /* 1: image store */ `
  -- Every blob the content store holds that metadata knows of (manifests, indexes, configs, layers).
  CREATE TABLE blobs (
    digest      TEXT PRIMARY KEY,
    size        INTEGER NOT NULL CHECK (size >= 0),
    media_type  TEXT NOT NULL,
    created_at  INTEGER NOT NULL
  ) WITHOUT ROWID;

  -- Where a blob came from, for cross-repository mounts on push. Several sources per blob.
  CREATE TABLE blob_sources (
    digest      TEXT NOT NULL REFERENCES blobs(digest) ON DELETE CASCADE,
    registry    TEXT NOT NULL,
    repository  TEXT NOT NULL,
    seen_at     INTEGER NOT NULL,
    PRIMARY KEY (digest, registry, repository)
  ) WITHOUT ROWID;

  -- Parsed image indexes (manifest lists); the bytes are the blob of the same digest.
  CREATE TABLE indexes (
    digest      TEXT PRIMARY KEY REFERENCES blobs(digest) ON DELETE CASCADE,
    media_type  TEXT NOT NULL,
    size        INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE index_children (
    index_digest  TEXT NOT NULL REFERENCES indexes(digest) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    child_digest  TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    size          INTEGER NOT NULL,
    os            TEXT,
    architecture  TEXT,
    variant       TEXT,
    PRIMARY KEY (index_digest, position)
  ) WITHOUT ROWID;
  CREATE INDEX index_children_by_child ON index_children(child_digest);

  -- Committed (read-only) layer snapshots, named by chain ID. The parent FK is deferred so GC
  -- can delete a whole unreferenced chain in any order inside its transaction.
  CREATE TABLE snapshots (
    chain_id         TEXT PRIMARY KEY,
    parent_chain_id  TEXT REFERENCES snapshots(chain_id) DEFERRABLE INITIALLY DEFERRED,
    diff_id          TEXT NOT NULL,
    size             INTEGER NOT NULL CHECK (size >= 0),
    created_at       INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX snapshots_by_parent ON snapshots(parent_chain_id) WHERE parent_chain_id IS NOT NULL;

  -- One row per image ID (= config digest), Docker's image store.
  CREATE TABLE images (
    id                 TEXT PRIMARY KEY,
    target_digest      TEXT NOT NULL,
    target_media_type  TEXT NOT NULL,
    target_size        INTEGER NOT NULL,
    created            INTEGER,
    size               INTEGER NOT NULL CHECK (size >= 0),
    os                 TEXT NOT NULL,
    architecture       TEXT NOT NULL,
    variant            TEXT,
    labels_json        TEXT NOT NULL DEFAULT '{}',
    added_at           INTEGER NOT NULL,
    last_used_at       INTEGER,
    last_tag_time      INTEGER,
    parent_id          TEXT REFERENCES images(id) ON DELETE SET NULL,
    top_chain_id       TEXT
  );
  CREATE INDEX images_by_created ON images(created DESC, id);
  CREATE INDEX images_by_target ON images(target_digest);
  CREATE INDEX images_by_parent ON images(parent_id) WHERE parent_id IS NOT NULL;

  -- Edges image -> blobs. 'index' edges use position 0 and accumulate (one per index pulled through).
  CREATE TABLE image_blobs (
    image_id  TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('index', 'manifest', 'config', 'layer')),
    position  INTEGER NOT NULL,
    digest    TEXT NOT NULL REFERENCES blobs(digest),
    PRIMARY KEY (image_id, role, position, digest)
  ) WITHOUT ROWID;
  CREATE INDEX image_blobs_by_digest ON image_blobs(digest);

  -- Edges image -> layer snapshots, bottom (position 0) to top.
  CREATE TABLE image_snapshots (
    image_id  TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    chain_id  TEXT NOT NULL REFERENCES snapshots(chain_id),
    PRIMARY KEY (image_id, position)
  ) WITHOUT ROWID;
  CREATE INDEX image_snapshots_by_chain ON image_snapshots(chain_id);

  -- RepoTags. No cascade: removing an image with references left is a bug, so the FK refuses it.
  CREATE TABLE tags (
    repository  TEXT NOT NULL,
    tag         TEXT NOT NULL,
    image_id    TEXT NOT NULL REFERENCES images(id),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (repository, tag)
  ) WITHOUT ROWID;
  CREATE INDEX tags_by_image ON tags(image_id);

  -- RepoDigests (manifest or index digest per repository). Never moved once set (behaviour §2.4).
  CREATE TABLE digest_refs (
    repository  TEXT NOT NULL,
    digest      TEXT NOT NULL,
    image_id    TEXT NOT NULL REFERENCES images(id),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (repository, digest)
  ) WITHOUT ROWID;
  CREATE INDEX digest_refs_by_image ON digest_refs(image_id);

  -- Work in progress (pull, push, load): resources held here are GC roots until expires_at.
  CREATE TABLE leases (
    id          TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX leases_by_expiry ON leases(expires_at);

  CREATE TABLE lease_resources (
    lease_id  TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
    kind      TEXT NOT NULL CHECK (kind IN ('blob', 'snapshot', 'ingest')),
    key       TEXT NOT NULL,
    PRIMARY KEY (lease_id, kind, key)
  ) WITHOUT ROWID;
  CREATE INDEX lease_resources_by_key ON lease_resources(kind, key);
  `,
  /* 2: rmi's targeted sweep asks whether any digest reference still names a manifest or index
        blob; without this index each such check scanned every digest reference. */ `
  CREATE INDEX digest_refs_by_digest ON digest_refs(digest);
  `,
  /* 3: `images` reads each image's references packed in its own row (tags_packed,
        digests_packed; see metadata PackedRefs) instead of grouping every tag row per listing:
        at 50k tags the grouping cost more than the rest of the listing. Triggers keep the packs,
        so no writer can forget them. A pack is NULL while images.remove deletes the image, so
        dropping n references costs n repacks, not n². */ `
  ALTER TABLE images ADD COLUMN tags_packed TEXT DEFAULT '';
  ALTER TABLE images ADD COLUMN digests_packed TEXT DEFAULT '';
  ${packTriggers('tags', 'tag', 'tags_packed')}
  ${packTriggers('digest_refs', 'digest', 'digests_packed')}
  UPDATE images SET tags_packed = ${pack('tags', 'tag')}, digests_packed = ${pack('digest_refs', 'digest')};
  `,
];

/**
 * The image's references in one table as the listing reads them (metadata PackedRefs): a group
 * per repository, `repository\nref\nref…`, groups joined by \v; '' when none. Evaluated inside
 * an UPDATE of the `images` row. Ordered by subqueries, which SQLite follows but does not promise
 * (refGroups checks); `group_concat(… ORDER BY …)` would promise it, but SQLite before 3.44
 * (Debian 12's sqlite3 shell, Python's sqlite3) then could not open the store at all.
 * Part of migration 3, so never edited: a later migration replaces the triggers instead.
 */
function pack(table: string, ref: string): string {
  return `(SELECT coalesce(group_concat(g, char(11)), '') FROM
    (SELECT repository || char(10) || group_concat(${ref}, char(10)) AS g FROM
      (SELECT repository, ${ref} FROM ${table} WHERE image_id = images.id ORDER BY repository, ${ref})
     GROUP BY repository ORDER BY repository))`;
}

/** Triggers that repack an image's references of one table whenever a reference row changes (migration 3). */
function packTriggers(table: string, ref: string, column: string): string {
  const refresh = (ids: string) =>
    `UPDATE images SET ${column} = ${pack(table, ref)} WHERE id IN (${ids}) AND ${column} IS NOT NULL;`;
  return `
  CREATE TRIGGER ${table}_pack_insert AFTER INSERT ON ${table} BEGIN ${refresh('NEW.image_id')} END;
  CREATE TRIGGER ${table}_pack_delete AFTER DELETE ON ${table} BEGIN ${refresh('OLD.image_id')} END;
  CREATE TRIGGER ${table}_pack_update AFTER UPDATE ON ${table} BEGIN ${refresh('OLD.image_id, NEW.image_id')} END;`;
}
