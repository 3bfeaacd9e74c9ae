import { unlinkSync } from 'node:fs';
import { LadingError } from '../errors/index.js';
import type { ContentStore } from '../content/index.js';
import { images, imageUsers, isLive, resolveImage, tags, type Db, type GcResult, type RootSource } from '../metadata/index.js';
import type { Digest } from '../oci/index.js';
import { parseTagTarget, repositoryName } from '../reference/index.js';
import type { Snapshotter } from '../snapshot/index.js';
import { invalidFilter, labelMatches, type ImageFilters } from './list-filter.js';
import { noSuchImage, parseName } from './queries.js';
import { RemovalTx, type RemoveEvent, type RemoveOptions } from './remove.js';
import { parseFilterTimestamp } from './timestamp.js';

export interface ManageDeps {
  db: Db;
  content: ContentStore;
  snapshotter: Snapshotter;
  /** GC roots and image users: references and leases now, containers later. */
  roots: readonly RootSource[];
  now(): number;
}

/** Thrown out of a transaction to roll a dry run back, carrying its result. */
class DryRun<T> {
  constructor(readonly result: T) {}
}

function dryRun<T>(db: Db, fn: () => T): T {
  try {
    db.tx(() => {
      throw new DryRun(fn());
    });
  } catch (e) {
    if (e instanceof DryRun) return e.result as T;
    throw e;
  }
  throw new LadingError('INTERNAL', 'dry run did not roll back');
}

/**
 * Delete the files of what GC swept, after its transaction committed (rows first, files after).
 * Each check-and-delete runs in its own short write transaction, so a concurrent pull cannot
 * lease or re-record the digest in between (it leases before looking for the file).
 */
export async function deleteSweptFiles(d: ManageDeps, gc: GcResult): Promise<void> {
  for (const b of gc.blobs) {
    d.db.tx((tx) => {
      if (isLive(tx, 'blob', b)) return;
      try {
        unlinkSync(d.content.path(b));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    });
  }
  // Children come before parents in gc.snapshots.
  for (const s of gc.snapshots) {
    const purge = d.db.tx((tx) => (isLive(tx, 'snapshot', s) ? undefined : d.snapshotter.detach(s)));
    await purge?.();
  }
}

export interface RmiResult {
  name: string;
  events: RemoveEvent[];
  /** NOT_FOUND or CONFLICT for this argument; the others still ran. */
  error?: LadingError;
}

/**
 * `rmi` of several arguments, each in its own transaction, in order. A dry run runs the very
 * same transactions inside one that is rolled back, so its report and byte count are exactly
 * what a real run would give.
 */
export async function removeImages(
  d: ManageDeps,
  names: readonly string[],
  o: RemoveOptions & { dryRun?: boolean } = {},
): Promise<{ results: RmiResult[]; bytes: number }> {
  const runAll = (each: (gc: GcResult) => void): RmiResult[] =>
    names.map((name) => {
      try {
        const r = d.db.tx((tx) => {
          const rm = new RemovalTx(d.db, tx, d.roots);
          rm.removeByName(name, o);
          return rm.sweep({ targeted: true });
        });
        each(r.gc);
        return { name, events: r.events };
      } catch (e) {
        if (e instanceof LadingError && (e.code === 'NOT_FOUND' || e.code === 'CONFLICT' || e.code === 'INVALID_ARGUMENT')) {
          return { name, events: [], error: e };
        }
        throw e;
      }
    });
  let bytes = 0;
  if (o.dryRun) {
    const results = dryRun(d.db, () => runAll((gc) => void (bytes += gc.bytes)));
    return { results, bytes };
  }
  const swept: GcResult[] = [];
  const results = runAll((gc) => {
    bytes += gc.bytes;
    swept.push(gc);
  });
  for (const gc of swept) await deleteSweptFiles(d, gc);
  return { results, bytes };
}

export interface PruneOptions {
  /** Every unused image, not only dangling ones (-a). */
  all?: boolean;
  /** dangling, until, label, label! (Docker's prune filters). */
  filters?: ImageFilters;
  /** Only images not used (pulled, tagged, inspected, pushed, run) for this long. */
  unusedForMs?: number;
  /** Remove least recently used images until the store holds at most this many bytes. */
  keepStorageBytes?: number;
  dryRun?: boolean;
}

export interface PruneResult {
  events: RemoveEvent[];
  /** Bytes freed: blob files plus unpacked layers. */
  bytes: number;
}

const PRUNE_KEYS = new Set(['dangling', 'until', 'label', 'label!']);

/**
 * `image prune` (behaviour §7.2, with its recommendation: images any container uses are skipped
 * entirely) plus --unused-for and --keep-storage. One transaction marks, removes and sweeps;
 * files go after it commits.
 */
export async function pruneImages(d: ManageDeps, o: PruneOptions = {}): Promise<PruneResult> {
  const filters = o.filters ?? {};
  for (const k of Object.keys(filters)) if (!PRUNE_KEYS.has(k)) throw invalidFilter(k);
  let all = o.all === true;
  const dangling = filters.dangling;
  if (dangling && dangling.length > 0) {
    if (dangling.includes('false') || dangling.includes('0')) all = true;
    else if (!dangling.includes('true') && !dangling.includes('1')) throw invalidFilter('dangling', dangling);
  }
  const now = d.now();
  const untilValue = filters.until?.at(-1);
  const until = untilValue !== undefined ? parseFilterTimestamp(untilValue, now) : undefined;
  const labels = filters.label ?? [];
  const notLabels = filters['label!'] ?? [];
  const unusedBefore = o.unusedForMs !== undefined ? now - o.unusedForMs : undefined;

  const run = () =>
    d.db.tx((tx) => {
      const list = images.list(tx);
      const parents = new Set(list.map((i) => i.parentId).filter((p): p is Digest => p !== undefined));
      let candidates = list.filter((img) => {
        const untagged = img.repoTags.length === 0;
        if (untagged && img.repoDigests.length === 0 && parents.has(img.id)) return false; // intermediate
        if (!all && !untagged) return false;
        if (until !== undefined && img.created !== undefined && img.created > until) return false;
        if (!labels.every((l) => labelMatches(img.labels, l))) return false;
        if (notLabels.some((l) => labelMatches(img.labels, l))) return false;
        if (unusedBefore !== undefined && (img.lastUsedAt ?? img.addedAt) > unusedBefore) return false;
        return imageUsers(tx, d.roots, img.id).length === 0;
      });
      const rm = new RemovalTx(d.db, tx, d.roots);
      const swept: GcResult[] = [];
      const events: RemoveEvent[] = [];
      let bytes = 0;
      if (o.keepStorageBytes === undefined) {
        for (const img of candidates) if (images.find(tx, img.id)) rm.pruneImage(img.id);
        const r = rm.sweep();
        events.push(...r.events);
        swept.push(r.gc);
        bytes += r.gc.bytes;
      } else {
        // Least recently used first; stop as soon as the store fits.
        candidates = [...candidates].sort((a, b) => (a.lastUsedAt ?? a.addedAt) - (b.lastUsedAt ?? b.addedAt) || (a.created ?? 0) - (b.created ?? 0));
        let total = storeBytes(d.db);
        for (const img of candidates) {
          if (total <= o.keepStorageBytes) break;
          if (!images.find(tx, img.id) || !rm.pruneImage(img.id)) continue;
          const r = rm.sweep();
          events.push(...r.events);
          swept.push(r.gc);
          bytes += r.gc.bytes;
          total -= r.gc.bytes;
        }
      }
      return { events, bytes, swept };
    });

  if (o.dryRun) {
    const r = dryRun(d.db, run);
    return { events: r.events, bytes: r.bytes };
  }
  const r = run();
  for (const gc of r.swept) await deleteSweptFiles(d, gc);
  return { events: r.events, bytes: r.bytes };
}

/** Bytes the store's recorded blobs and layers hold. */
export function storeBytes(db: Db): number {
  return db.read(
    (tx) =>
      tx.get<{ n: number }>(`SELECT (SELECT coalesce(sum(size), 0) FROM blobs) + (SELECT coalesce(sum(size), 0) FROM snapshots) AS n`)!.n,
  );
}

/**
 * `docker tag SOURCE TARGET`: SOURCE resolves as any image name (ID, prefix, digest), TARGET
 * gets `latest` by default and refuses digests. A tag that moves leaves its old image behind,
 * dangling if that was its last tag. Records the tag time and a use.
 */
export function tagImage(d: ManageDeps, source: string, target: string): void {
  const ref = parseTagTarget(target);
  d.db.tx((tx) => {
    const found = resolveImage(tx, source, parseName);
    if (!found) throw noSuchImage(source);
    tags.set(tx, repositoryName(ref), ref.tag!, found.image.id);
    images.setLastTagTime(tx, found.image.id);
    images.touch(tx, found.image.id);
  });
}

/** Record a use of the image (inspect, push, run), for prune --unused-for and --keep-storage. */
export function touchImage(d: ManageDeps, id: Digest): void {
  d.db.tx((tx) => images.touch(tx, id));
}
