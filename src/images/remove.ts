import { LadingError } from '../errors/index.js';
import {
  collectGarbage,
  digestRefs,
  imageUsers,
  images,
  resolveImage,
  snapshots,
  tags,
  type Db,
  type GcResult,
  type RootSource,
  type Tx,
} from '../metadata/index.js';
import { shortId, type Digest } from '../oci/index.js';
import { familiarRepository } from './list-rows.js';
import { noSuchImage, parseName } from './queries.js';

/** One line of rmi's (and prune's) report, as the Engine API's DELETE /images answers. */
export type RemoveEvent = { untagged: string } | { deleted: string };

export interface RemoveOptions {
  force?: boolean;
  /** Keep untagged parent images (rmi --no-prune). */
  noPrune?: boolean;
}

/** What one transaction removed: report lines (with freed layers placed) and GC's sweep. */
export interface Removal {
  events: RemoveEvent[];
  gc: GcResult;
}

type Pending = { untagged: string } | { deleted: Digest; chains: Digest[] };

/**
 * Removes references and image rows inside one transaction, collecting the report; `sweep()`
 * then runs the one GC (mark from every root source, sweep) in the same transaction and places
 * each deleted image's freed layers (chain IDs, top first) after its `Deleted:` line. Files are
 * deleted by the caller after commit (`deleteSweptFiles`).
 */
export class RemovalTx {
  private readonly pending: Pending[] = [];
  /** What deleted images referenced: the targeted sweep's candidates. */
  private readonly candidates = { blobs: [] as string[], snapshots: [] as string[] };
  constructor(
    readonly db: Db,
    readonly tx: Tx,
    private readonly roots: readonly RootSource[],
  ) {}

  private untag(repository: string, ref: { tag: string } | { digest: string }): void {
    const fam = familiarRepository(repository);
    if ('tag' in ref) {
      tags.remove(this.tx, repository, ref.tag);
      this.pending.push({ untagged: `${fam}:${ref.tag}` });
    } else {
      digestRefs.remove(this.tx, repository, ref.digest);
      this.candidates.blobs.push(ref.digest);
      this.pending.push({ untagged: `${fam}@${ref.digest}` });
    }
  }

  private hasRefs(id: string): boolean {
    return this.tx.get(`SELECT 1 FROM tags WHERE image_id = ? UNION ALL SELECT 1 FROM digest_refs WHERE image_id = ? LIMIT 1`, id, id) !== undefined;
  }

  /** Docker's image-level conflicts: children and running containers always, stopped containers unless forced. */
  conflict(id: Digest, force: boolean): LadingError | undefined {
    const short = shortId(id);
    if (images.children(this.tx, id).length > 0) {
      return conflict(`conflict: unable to delete ${short} (cannot be forced) - image has dependent child images`);
    }
    const users = imageUsers(this.tx, this.roots, id);
    const running = users.find((u) => u.running);
    if (running) return conflict(`conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ${shortId(running.id)}`);
    if (users.length > 0 && !force) {
      return conflict(`conflict: unable to delete ${short} (must be forced) - image is being used by stopped container ${shortId(users[0]!.id)}`);
    }
    return undefined;
  }

  /**
   * Delete an image with no references left. `quiet`: a conflict leaves it in place silently
   * (Docker, after untagging by name). Then untagged parents with no other children and no users
   * follow unless `prune` is off.
   */
  deleteImage(id: Digest, o: { force: boolean; prune: boolean; quiet: boolean }): boolean {
    const c = this.conflict(id, o.force);
    if (c) {
      if (o.quiet) return false;
      throw c;
    }
    const img = images.find(this.tx, id);
    if (!img) return false;
    const chains = snapshots.forImage(this.tx, id).map((s) => s.chainId).reverse();
    this.candidates.snapshots.push(...chains);
    for (const e of images.blobs(this.tx, id)) this.candidates.blobs.push(e.digest);
    for (const d of digestRefs.forImage(this.tx, id)) this.candidates.blobs.push(d.digest);
    images.remove(this.tx, id);
    this.pending.push({ deleted: id, chains });
    const parent = img.parentId;
    if (o.prune && parent !== undefined && images.find(this.tx, parent) && !this.hasRefs(parent)) {
      this.deleteImage(parent, { force: false, prune: true, quiet: true });
    }
    return true;
  }

  /** Every reference of the image, in Docker's order (lexical by full reference). */
  private refsOf(id: string): Array<{ repository: string; ref: { tag: string } | { digest: string }; full: string }> {
    const out = [
      ...tags.forImage(this.tx, id).map((t) => ({ repository: t.repository, ref: { tag: t.tag }, full: `${t.repository}:${t.tag}` })),
      ...digestRefs.forImage(this.tx, id).map((d) => ({ repository: d.repository, ref: { digest: d.digest }, full: `${d.repository}@${d.digest}` })),
    ];
    return out.sort((a, b) => (a.full < b.full ? -1 : a.full > b.full ? 1 : 0));
  }

  /** `docker rmi NAME` for one argument (behaviour §6.2). Throws NOT_FOUND or CONFLICT. */
  removeByName(arg: string, o: RemoveOptions): void {
    const force = o.force === true;
    const prune = o.noPrune !== true;
    const found = resolveImage(this.tx, arg, parseName);
    if (!found) throw noSuchImage(arg);
    const id = found.image.id;
    const tagRefs = tags.forImage(this.tx, id);
    const digests = digestRefs.forImage(this.tx, id);
    const repos = new Set([...tagRefs.map((t) => t.repository), ...digests.map((d) => d.repository)]);
    const lastTag = repos.size <= 1 && tagRefs.length <= 1;

    if (found.by === 'reference') {
      const fam = familiarRepository(found.repository);
      const shown = found.digest !== undefined ? `${fam}@${found.digest}` : `${fam}:${found.tag!}`;
      const users = imageUsers(this.tx, this.roots, id);
      if (lastTag && users.length > 0 && !force) {
        throw conflict(
          `conflict: unable to remove repository reference "${shown}" (must force) - container ${shortId(users[0]!.id)} is using its referenced image ${shortId(id)}`,
        );
      }
      if (found.digest !== undefined) {
        this.untag(found.repository, { digest: found.digest });
      } else {
        const tag = found.tag!;
        this.untag(found.repository, { tag });
        // The repository's last tag takes its digest references with it.
        if (!tagRefs.some((t) => t.repository === found.repository && t.tag !== tag)) {
          for (const d of digests) if (d.repository === found.repository) this.untag(d.repository, { digest: d.digest });
        }
      }
      if (this.hasRefs(id)) return;
      this.deleteImage(id, { force, prune, quiet: true });
      return;
    }

    if (!lastTag && !force) {
      throw conflict(`conflict: unable to delete ${shortId(id)} (must be forced) - image is referenced in multiple repositories`);
    }
    const c = this.conflict(id, force);
    if (c) throw c;
    for (const r of this.refsOf(id)) this.untag(r.repository, r.ref);
    this.deleteImage(id, { force, prune, quiet: false });
  }

  /**
   * Prune one candidate: every reference, then the image, without force. Conflicts skip it
   * entirely (a savepoint undoes any untagging), as the prune prompt promises.
   */
  pruneImage(id: Digest): boolean {
    const mark = this.pending.length;
    try {
      return this.db.tx(() => {
        if (this.conflict(id, false)) return false;
        for (const r of this.refsOf(id)) this.untag(r.repository, r.ref);
        return this.deleteImage(id, { force: false, prune: true, quiet: false });
      });
    } catch (e) {
      this.pending.length = mark;
      if ((e as LadingError).code === 'CONFLICT') return false;
      throw e;
    }
  }

  /**
   * Run GC in this transaction and return the report with freed layers in place. `targeted`
   * sweeps only what the removed images referenced (rmi); otherwise the whole store is marked.
   */
  sweep(o: { targeted?: boolean } = {}): Removal {
    const gc = collectGarbage(this.tx, this.tx.now, { roots: this.roots, ...(o.targeted ? { only: this.candidates } : {}) });
    this.candidates.blobs.length = 0;
    this.candidates.snapshots.length = 0;
    return { events: this.drain(new Set(gc.snapshots)), gc };
  }

  /** The report so far; chain IDs listed only when in `freed`. */
  drain(freed: ReadonlySet<string>): RemoveEvent[] {
    const events: RemoveEvent[] = [];
    for (const p of this.pending) {
      if ('untagged' in p) {
        events.push(p);
        continue;
      }
      events.push({ deleted: p.deleted });
      for (const c of p.chains) if (freed.has(c)) events.push({ deleted: c });
    }
    this.pending.length = 0;
    return events;
  }
}

function conflict(message: string): LadingError {
  return new LadingError('CONFLICT', message);
}
