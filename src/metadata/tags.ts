import { LadingError } from '../errors/index.js';
import type { Digest } from '../oci/index.js';
import type { Tx } from './db.js';
import type { DigestRef, TagRef } from './images.js';

function requireImage(tx: Tx, imageId: string): void {
  if (tx.get(`SELECT 1 FROM images WHERE id = ?`, imageId) === undefined) {
    throw new LadingError('NOT_FOUND', `No such image: ${imageId}`);
  }
}

/** RepoTags: (full repository name, tag) -> image. A tag points at one image and can move. */
export const tags = {
  /**
   * Point repository:tag at the image, moving it if it pointed elsewhere. Returns the image it
   * moved away from, which may now be dangling (behaviour §3.7). Idempotent: re-setting the same
   * target returns no previous and keeps the tag's created_at.
   */
  set(tx: Tx, repository: string, tag: string, imageId: string, now: number = tx.now): { previous?: Digest } {
    requireImage(tx, imageId);
    const old = tx.get<{ image_id: string }>(`SELECT image_id FROM tags WHERE repository = ? AND tag = ?`, repository, tag);
    if (old?.image_id === imageId) return {};
    tx.run(
      `INSERT INTO tags (repository, tag, image_id, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (repository, tag) DO UPDATE SET image_id = excluded.image_id, created_at = excluded.created_at`,
      repository,
      tag,
      imageId,
      now,
    );
    return old === undefined ? {} : { previous: old.image_id as Digest };
  },

  find(tx: Tx, repository: string, tag: string): Digest | undefined {
    return tx.get<{ image_id: Digest }>(`SELECT image_id FROM tags WHERE repository = ? AND tag = ?`, repository, tag)
      ?.image_id;
  },

  /** Remove the tag; returns the image it pointed at, or undefined when there was no such tag. */
  remove(tx: Tx, repository: string, tag: string): Digest | undefined {
    const id = tags.find(tx, repository, tag);
    if (id !== undefined) tx.run(`DELETE FROM tags WHERE repository = ? AND tag = ?`, repository, tag);
    return id;
  },

  /** The image's tags in Docker's RepoTags order (lexical by full reference). */
  forImage(tx: Tx, imageId: string): TagRef[] {
    return tx.all<TagRef>(`SELECT repository, tag FROM tags WHERE image_id = ? ORDER BY repository || ':' || tag`, imageId);
  },

  /** Tags of a repository with their images, sorted by tag. */
  forRepository(tx: Tx, repository: string): { tag: string; imageId: Digest }[] {
    return tx
      .all<{ tag: string; image_id: string }>(`SELECT tag, image_id FROM tags WHERE repository = ? ORDER BY tag`, repository)
      .map((r) => ({ tag: r.tag, imageId: r.image_id as Digest }));
  },
};

/** RepoDigests: (full repository name, manifest or index digest) -> image. Never moved. */
export const digestRefs = {
  /**
   * Record repository@digest for the image unless that reference already exists: a digest
   * reference is never moved to another image (behaviour §2.4, quirk 7). Returns the image the
   * reference points at after the call (the existing one when it was already set).
   */
  add(tx: Tx, repository: string, digest: string, imageId: string, now: number = tx.now): { imageId: Digest; added: boolean } {
    requireImage(tx, imageId);
    const { changes } = tx.run(
      `INSERT INTO digest_refs (repository, digest, image_id, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (repository, digest) DO NOTHING`,
      repository,
      digest,
      imageId,
      now,
    );
    if (changes === 1) return { imageId: imageId as Digest, added: true };
    return { imageId: digestRefs.find(tx, repository, digest)!, added: false };
  },

  find(tx: Tx, repository: string, digest: string): Digest | undefined {
    return tx.get<{ image_id: Digest }>(
      `SELECT image_id FROM digest_refs WHERE repository = ? AND digest = ?`,
      repository,
      digest,
    )?.image_id;
  },

  remove(tx: Tx, repository: string, digest: string): Digest | undefined {
    const id = digestRefs.find(tx, repository, digest);
    if (id !== undefined) tx.run(`DELETE FROM digest_refs WHERE repository = ? AND digest = ?`, repository, digest);
    return id;
  },

  /** The image's digest references in Docker's RepoDigests order (lexical by full reference). */
  forImage(tx: Tx, imageId: string): DigestRef[] {
    return tx.all<DigestRef>(
      `SELECT repository, digest FROM digest_refs WHERE image_id = ? ORDER BY repository || '@' || digest`,
      imageId,
    );
  },
};
