import type { Logger } from '../server/index.js';
import type { Digest } from '../oci/index.js';
import type { RegistryStorage } from './storage/index.js';

export interface GcOptions {
  /** Report what would go, delete nothing. */
  dryRun?: boolean;
  /** Blobs referenced (written, touched) more recently than this are kept. Default 1 hour. */
  gracePeriodMs?: number;
  /** Uploads not written to for this long are abandoned and removed. Default 7 days. */
  uploadTtlMs?: number;
  now?: () => number;
  logger?: Logger;
  signal?: AbortSignal;
}

export interface GcReport {
  dryRun: boolean;
  repositories: number;
  manifests: number;
  /** Blobs kept because a manifest references them. */
  marked: number;
  /** Unreferenced blobs removed (or that would be with dryRun). */
  deleted: Array<{ digest: Digest; size: number }>;
  deletedBytes: number;
  /** Unreferenced but younger than the grace period (or touched during the sweep). */
  kept: number;
  /** Abandoned uploads removed. */
  uploadsRemoved: number;
}

const MAX_MANIFEST = 4 << 20;

/** Digests a manifest document names, read loosely so an unfamiliar type still protects its blobs. */
export function referencedDigests(doc: unknown): Digest[] {
  const out: Digest[] = [];
  const d = doc as { config?: { digest?: unknown }; layers?: unknown; manifests?: unknown; blobs?: unknown };
  if (typeof d !== 'object' || d === null) return out;
  if (typeof d.config?.digest === 'string') out.push(d.config.digest as Digest);
  for (const list of [d.layers, d.manifests, d.blobs]) {
    if (!Array.isArray(list)) continue;
    for (const x of list) if (typeof (x as { digest?: unknown })?.digest === 'string') out.push((x as { digest: Digest }).digest);
  }
  return out;
}

/**
 * Mark and sweep that runs while the registry serves (unlike distribution's offline GC):
 *
 * 1. `start` = now. Mark every manifest of every repository and what it references (config,
 *    layers, index children; referrers are manifests of their repository, marked the same way).
 * 2. Sweep blobs that are unmarked *and* last referenced before `start - grace`. A manifest PUT
 *    touches each blob it references before it is stored, so a blob linked after the mark phase
 *    looks young and stays; blobs uploaded but not yet referenced are young for the grace period;
 *    uploads in progress are not blobs at all. `BlobStore.sweep` re-checks the time atomically.
 * 3. Remove the repository links to swept blobs and abandoned uploads.
 */
export async function collectGarbage(storage: RegistryStorage, o: GcOptions = {}): Promise<GcReport> {
  const now = o.now ?? Date.now;
  const start = now();
  const cutoff = new Date(start - (o.gracePeriodMs ?? 3600_000));
  const report: GcReport = { dryRun: !!o.dryRun, repositories: 0, manifests: 0, marked: 0, deleted: [], deletedBytes: 0, kept: 0, uploadsRemoved: 0 };
  const marked = new Set<string>();
  const repos: string[] = [];
  for (let last: string | undefined; ; ) {
    const page = await storage.repos.repositories({ n: 1000, ...(last ? { last } : {}) });
    repos.push(...page.items);
    last = page.items[page.items.length - 1];
    if (!page.more || !last) break;
  }
  report.repositories = repos.length;
  for (const repo of repos) {
    for await (const m of storage.repos.listManifests(repo)) {
      o.signal?.throwIfAborted();
      report.manifests++;
      marked.add(m.digest);
      let doc: unknown;
      try {
        doc = JSON.parse((await storage.blobs.read(m.digest, MAX_MANIFEST)).toString('utf8'));
      } catch (e) {
        o.logger?.warn({ repo, digest: m.digest, err: (e as Error).message }, 'gc: unreadable manifest, its blobs are not marked');
        continue;
      }
      for (const d of referencedDigests(doc)) marked.add(d);
    }
  }
  report.marked = marked.size;
  const swept = new Set<string>();
  for await (const b of storage.blobs.walk()) {
    o.signal?.throwIfAborted();
    if (marked.has(b.digest)) continue;
    if (b.referencedAt.getTime() >= cutoff.getTime()) {
      report.kept++;
      continue;
    }
    const result = o.dryRun ? 'deleted' : await storage.blobs.sweep(b.digest, cutoff);
    if (result === 'deleted') {
      report.deleted.push({ digest: b.digest, size: b.size });
      report.deletedBytes += b.size;
      swept.add(b.digest);
    } else if (result === 'kept') report.kept++;
  }
  if (!o.dryRun && swept.size) {
    for (const repo of repos) {
      for await (const d of storage.repos.listBlobLinks(repo)) {
        // Only if still gone: an upload may have brought the same content back meanwhile.
        if (swept.has(d) && !(await storage.blobs.stat(d))) await storage.repos.unlinkBlob(repo, d);
      }
    }
  }
  const uploadCutoff = start - (o.uploadTtlMs ?? 7 * 24 * 3600_000);
  for await (const u of storage.uploads.list()) {
    if (u.updatedAt.getTime() >= uploadCutoff) continue;
    if (!o.dryRun) await storage.uploads.cancel(u.id);
    report.uploadsRemoved++;
  }
  o.logger?.info({ ...report, deleted: report.deleted.length }, 'gc: done');
  return report;
}
