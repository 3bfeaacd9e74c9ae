import { createHash } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { isLive, tags, type Db } from '../metadata/index.js';
import type { Digest } from '../oci/index.js';
import { familiarRepository } from './list-rows.js';
import { deleteSweptFiles, type ManageDeps } from './manage.js';
import { RemovalTx } from './remove.js';

export type CheckProblemKind = 'blob-missing' | 'blob-corrupt' | 'snapshot-missing' | 'unreferenced-blob' | 'unreferenced-snapshot';

export interface CheckProblem {
  kind: CheckProblemKind;
  /** Blob digest or snapshot chain ID. */
  key: string;
  /** One line for the user. */
  message: string;
  /** Images that need this blob or snapshot (broken until re-pulled). */
  images: Digest[];
}

export interface CheckResult {
  problems: CheckProblem[];
  /** With repair: what was done, one line each. */
  repairs: string[];
}

/** sha256 of a blob file as stored, streaming. */
async function hashBlob(d: ManageDeps, digest: Digest, signal?: AbortSignal): Promise<string> {
  const h = createHash('sha256');
  await pipeline(
    await d.content.open(digest, signal ? { signal } : {}),
    new Writable({
      write(chunk: Buffer, _e, cb) {
        h.update(chunk);
        cb();
      },
    }),
    ...(signal ? [{ signal }] : []),
  );
  return `sha256:${h.digest('hex')}`;
}

function imagesUsing(db: Db, kind: 'blob' | 'snapshot', key: string): Digest[] {
  return db.read((tx) =>
    (kind === 'blob'
      ? tx.all<{ id: Digest }>(
          `SELECT image_id AS id FROM image_blobs WHERE digest = ? UNION SELECT image_id AS id FROM digest_refs WHERE digest = ? ORDER BY 1`,
          key,
          key,
        )
      : tx.all<{ id: Digest }>(
          `SELECT DISTINCT image_id AS id FROM image_snapshots WHERE chain_id IN (
             WITH RECURSIVE down(c) AS (SELECT ? UNION SELECT s.chain_id FROM snapshots s JOIN down ON s.parent_chain_id = down.c)
             SELECT c FROM down) ORDER BY 1`,
          key,
        )
    ).map((r) => r.id),
  );
}

/**
 * `system check`: every recorded blob's file is present with the right size and digest, every
 * recorded snapshot is present and committed, and no file lies around that nothing records or
 * leases. With `repair`: corrupt blob files are deleted, images needing a missing blob or
 * snapshot are removed (their references are listed so they can be pulled again), and
 * unreferenced files are deleted; then GC sweeps what that left.
 */
export async function checkStore(d: ManageDeps, o: { repair?: boolean; signal?: AbortSignal } = {}): Promise<CheckResult> {
  const problems: CheckProblem[] = [];
  const { blobRows, snapRows } = d.db.read((tx) => ({
    blobRows: tx.all<{ digest: Digest; size: number }>(`SELECT digest, size FROM blobs ORDER BY digest`),
    snapRows: tx.all<{ chain_id: Digest }>(`SELECT chain_id FROM snapshots ORDER BY chain_id`),
  }));
  for (const b of blobRows) {
    const info = await d.content.info(b.digest);
    if (!info) {
      problems.push({ kind: 'blob-missing', key: b.digest, message: `blob ${b.digest}: missing`, images: imagesUsing(d.db, 'blob', b.digest) });
      continue;
    }
    const found = info.size === b.size ? await hashBlob(d, b.digest, o.signal) : undefined;
    if (found !== b.digest) {
      const why = found === undefined ? `size ${info.size}, expected ${b.size}` : `content hashes to ${found}`;
      problems.push({ kind: 'blob-corrupt', key: b.digest, message: `blob ${b.digest}: corrupt (${why})`, images: imagesUsing(d.db, 'blob', b.digest) });
    }
  }
  for (const s of snapRows) {
    const info = await d.snapshotter.stat(s.chain_id);
    if (info?.kind !== 'committed') {
      problems.push({ kind: 'snapshot-missing', key: s.chain_id, message: `snapshot ${s.chain_id}: missing`, images: imagesUsing(d.db, 'snapshot', s.chain_id) });
    }
  }
  const recordedBlobs = new Set<string>(blobRows.map((b) => b.digest));
  for await (const b of d.content.walk()) {
    if (recordedBlobs.has(b.digest)) continue;
    if (d.db.read((tx) => isLive(tx, 'blob', b.digest))) continue; // recorded or leased meanwhile
    problems.push({ kind: 'unreferenced-blob', key: b.digest, message: `blob ${b.digest}: not referenced by the metadata`, images: [] });
  }
  const recordedSnaps = new Set<string>(snapRows.map((s) => s.chain_id));
  for await (const s of d.snapshotter.walk()) {
    if (s.kind !== 'committed' || recordedSnaps.has(s.key)) continue;
    if (d.db.read((tx) => isLive(tx, 'snapshot', s.key))) continue;
    problems.push({ kind: 'unreferenced-snapshot', key: s.key, message: `snapshot ${s.key}: not referenced by the metadata`, images: [] });
  }
  if (!o.repair || problems.length === 0) return { problems, repairs: [] };
  return { problems, repairs: await repair(d, problems) };
}

async function repair(d: ManageDeps, problems: CheckProblem[]): Promise<string[]> {
  const repairs: string[] = [];
  for (const p of problems) {
    if (p.kind === 'blob-corrupt') {
      // Wrong bytes under a digest's name must go before anything can fetch the right ones.
      d.db.tx(() => {
        try {
          unlinkSync(d.content.path(p.key as Digest));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      });
      repairs.push(`deleted corrupt blob file ${p.key}`);
    }
  }
  const broken = [...new Set(problems.flatMap((p) => p.images))].sort();
  const r = d.db.tx((tx) => {
    const rm = new RemovalTx(d.db, tx, d.roots);
    for (const id of broken) {
      if (tx.get(`SELECT 1 FROM images WHERE id = ?`, id) === undefined) continue;
      const refs = tags.forImage(tx, id).map((t) => `${familiarRepository(t.repository)}:${t.tag}`);
      for (const row of tx.all<{ repository: string; digest: string }>(`SELECT repository, digest FROM digest_refs WHERE image_id = ?`, id)) {
        refs.push(`${familiarRepository(row.repository)}@${row.digest}`);
      }
      tx.run(`DELETE FROM tags WHERE image_id = ?`, id);
      tx.run(`DELETE FROM digest_refs WHERE image_id = ?`, id);
      // Children of a broken image lose their parent link (the FK sets it NULL), not their data.
      rm.deleteImage(id, { force: true, prune: false, quiet: true });
      repairs.push(`removed incomplete image ${id}${refs.length ? ` (${refs.join(', ')}): pull it again` : ''}`);
    }
    // Rows of missing blobs go even when a lease names them; snapshot rows go with GC (children first).
    for (const p of problems) {
      if (p.kind === 'blob-missing' || p.kind === 'blob-corrupt') tx.run(`DELETE FROM blobs WHERE digest = ? AND NOT EXISTS (SELECT 1 FROM image_blobs WHERE digest = ?)`, p.key, p.key);
    }
    return rm.sweep();
  });
  await deleteSweptFiles(d, r.gc);
  for (const p of problems) {
    if (p.kind === 'unreferenced-blob') {
      const gone = d.db.tx((tx) => {
        if (isLive(tx, 'blob', p.key)) return false;
        try {
          unlinkSync(d.content.path(p.key as Digest));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
        return true;
      });
      if (gone) repairs.push(`deleted unreferenced blob ${p.key}`);
    } else if (p.kind === 'unreferenced-snapshot') {
      const purge = d.db.tx((tx) => (isLive(tx, 'snapshot', p.key) ? undefined : d.snapshotter.detach(p.key)));
      if (purge) {
        await purge();
        repairs.push(`deleted unreferenced snapshot ${p.key}`);
      }
    }
  }
  return repairs;
}
