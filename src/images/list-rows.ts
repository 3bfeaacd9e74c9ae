import type { Digest } from '../oci/index.js';
import { familiarName, parseReference } from '../reference/index.js';
import { refGroups, type PackedImage } from '../metadata/index.js';

/** An image as `images` sees it: references are full repository names. */
export interface ListedImage {
  id: Digest;
  created: number | undefined; // unix ms, undefined when the config has none
  size: number;
  tags: Array<{ repository: string; tag: string }>;
  digests: Array<{ repository: string; digest: string }>;
  labels?: Record<string, string> | null;
  parentId?: Digest | undefined;
  /** Another image names this one as its parent (an intermediate image when untagged). */
  hasChildren?: boolean;
  /** Last pull, tag, inspect, push or run (unix ms); falls back to when it was added. */
  lastUsedAt?: number;
}

export interface ImageRow {
  repository: string; // familiar, or <none>
  tag: string; // or <none>
  /** `<none>` for a tag row without digests; '' for a digest-only row when digests are not shown (Docker CLI). */
  digest: string;
  id: Digest;
  created: number | undefined;
  size: number;
}

const familiarRepoCache = new Map<string, string>();
/** The familiar form of a full repository name as the store records it (`docker.io/library/x` -> `x`). */
export function familiarRepository(full: string): string {
  // Only Hub names change: another registry's name is its own familiar form, no parse needed
  // (a store of 1000 registry repositories would otherwise parse each one).
  const slash = full.indexOf('/');
  if (slash > 0) {
    const first = full.slice(0, slash);
    if (first !== 'docker.io' && first !== 'index.docker.io' && (first.includes('.') || first.includes(':') || first === 'localhost')) return full;
  }
  let f = familiarRepoCache.get(full);
  if (f === undefined) {
    f = familiarName(parseReference(full));
    familiarRepoCache.set(full, f);
  }
  return f;
}

/**
 * Docker's rows column by column: row i is (repository[i], tag[i], digest[i]) of
 * images[image[i]]. No object per row: `images` may print 50k of them. Rows of one image are
 * adjacent; images come in listing order.
 */
export interface ImageRowColumns {
  readonly length: number;
  /** Familiar repository, or `<none>`. */
  readonly repository: readonly string[];
  /** Tag, or `<none>`. */
  readonly tag: readonly string[];
  /** As ImageRow.digest. */
  readonly digest: readonly string[];
  readonly image: readonly number[];
  readonly images: ReadonlyArray<{ id: Digest; created: number | undefined; size: number }>;
}

type Listed = { id: Digest; created: number | undefined };
const createdKey = (i: Listed): number => (i.created === undefined ? -Infinity : Math.floor(i.created / 1000));
/** Docker's listing order: created (whole seconds) descending, then ID; no created last. */
const byCreated = (a: Listed, b: Listed): number => createdKey(b) - createdKey(a) || (a.id < b.id ? -1 : 1);

/** The images in listing order; the array itself when already in it (the store lists them almost so). */
function inListingOrder<T extends Listed>(images: readonly T[]): readonly T[] {
  for (let k = 1; k < images.length; k++) {
    if (!(byCreated(images[k - 1]!, images[k]!) < 0)) return [...images].sort(byCreated);
  }
  return images;
}

class RowColumns implements ImageRowColumns {
  readonly repository: string[] = [];
  readonly tag: string[] = [];
  readonly digest: string[] = [];
  readonly image: number[] = [];
  readonly images: Array<{ id: Digest; created: number | undefined; size: number }> = [];
  constructor(private readonly showDigests: boolean) {}

  get length(): number {
    return this.image.length;
  }

  private push(repository: string, tag: string, digest: string): void {
    this.repository.push(repository);
    this.tag.push(tag);
    this.digest.push(digest);
    this.image.push(this.images.length - 1);
  }

  /** Start the next image's rows. */
  addImage(img: { id: Digest; created: number | undefined; size: number }): void {
    this.images.push(img);
  }

  /** The image has no reference: one `<none> <none>` row. */
  addUnreferenced(): void {
    this.push('<none>', '<none>', '<none>');
  }

  /**
   * The rows of one repository of the current image (behaviour §3.2): a row per tag (repeated
   * per digest with --digests), or for digests only one `<none>` row (one per digest with
   * --digests). Groups are `[repository, ref, ref…]` (refGroups' shape), refs in order.
   */
  addRepository(repository: string, tagGroup: readonly string[] | undefined, digestGroup: readonly string[] | undefined): void {
    const fam = familiarRepository(repository);
    const nTags = tagGroup === undefined ? 0 : tagGroup.length - 1;
    const nDigests = digestGroup === undefined ? 0 : digestGroup.length - 1;
    if (nTags === 0) {
      if (this.showDigests) for (let d = 1; d <= nDigests; d++) this.push(fam, '<none>', digestGroup![d]!);
      else this.push(fam, '<none>', '');
      return;
    }
    for (let t = 1; t <= nTags; t++) {
      const tag = tagGroup![t]!;
      if (this.showDigests && nDigests > 0) for (let d = 1; d <= nDigests; d++) this.push(fam, tag, digestGroup![d]!);
      else this.push(fam, tag, '<none>');
    }
  }
}

const NO_GROUPS: string[][] = [];

/**
 * Rows of images whose references are packed (the store's listing, for the default table), by
 * the same rules as imageRows. Untagged images with children (intermediate) are left out unless
 * `all`, as filterImages does without filters.
 */
export function packedImageRows(images: readonly PackedImage[], o: { digests: boolean; all: boolean }): ImageRowColumns {
  let parents: Set<string> | undefined;
  if (!o.all) {
    for (const img of images) if (img.parentId !== undefined) (parents ??= new Set()).add(img.parentId);
  }
  const cols = new RowColumns(o.digests);
  for (const img of inListingOrder(images)) {
    if (img.tags === '' && img.digests === '') {
      if (parents?.has(img.id)) continue;
      cols.addImage(img);
      cols.addUnreferenced();
      continue;
    }
    cols.addImage(img);
    // Both lists of groups are in repository order: merge them.
    const tagGroups = img.tags === '' ? NO_GROUPS : refGroups(img.tags);
    const digestGroups = img.digests === '' ? NO_GROUPS : refGroups(img.digests);
    let t = 0;
    let d = 0;
    while (t < tagGroups.length || d < digestGroups.length) {
      const tr = tagGroups[t]?.[0];
      const dr = digestGroups[d]?.[0];
      if (dr === undefined || (tr !== undefined && tr < dr)) cols.addRepository(tr!, tagGroups[t++], undefined);
      else if (tr === undefined || dr < tr) cols.addRepository(dr, undefined, digestGroups[d++]);
      else cols.addRepository(tr, tagGroups[t++], digestGroups[d++]);
    }
  }
  return cols;
}

/** `[repository, ref, ref…]` of one repository's references (all in it), or undefined when none. */
function group<T>(repository: string, refs: readonly T[], ref: (r: T) => string): string[] | undefined {
  if (refs.length === 0) return undefined;
  const g = new Array<string>(refs.length + 1);
  g[0] = repository;
  for (let k = 0; k < refs.length; k++) g[k + 1] = ref(refs[k]!);
  return g;
}

/** Rows of listed images as columns (see imageRows). */
export function imageRowColumns(images: readonly ListedImage[], o: { digests: boolean }): ImageRowColumns {
  const cols = new RowColumns(o.digests);
  for (const img of inListingOrder(images)) {
    const { tags, digests } = img;
    cols.addImage(img);
    if (tags.length === 0 && digests.length === 0) {
      cols.addUnreferenced();
      continue;
    }
    // Most images have one repository: no grouping then.
    const first = tags.length > 0 ? tags[0]!.repository : digests[0]!.repository;
    let single = true;
    for (let k = 1; single && k < tags.length; k++) if (tags[k]!.repository !== first) single = false;
    for (let k = 0; single && k < digests.length; k++) if (digests[k]!.repository !== first) single = false;
    if (single) {
      cols.addRepository(first, group(first, tags, (t) => t.tag), group(first, digests, (d) => d.digest));
      continue;
    }
    const repos = [...new Set([...tags.map((t) => t.repository), ...digests.map((d) => d.repository)])].sort();
    for (const repo of repos) {
      const inRepo = <T extends { repository: string }>(refs: T[]) => refs.filter((r) => r.repository === repo);
      cols.addRepository(repo, group(repo, inRepo(tags), (t) => t.tag), group(repo, inRepo(digests), (d) => d.digest));
    }
  }
  return cols;
}

/**
 * Docker's rows (behaviour §3.2): one per (repository, tag); a repository with only digests gets
 * one `<none>` tag row (one per digest with --digests); an image with no references one
 * `<none> <none>` row. With `digests`, tag rows repeat once per digest of the same repository.
 * Images newest first; repositories in a stable (sorted) order where Docker's is random.
 */
export function imageRows(images: readonly ListedImage[], o: { digests: boolean }): ImageRow[] {
  const c = imageRowColumns(images, o);
  const n = c.length;
  const rows = new Array<ImageRow>(n);
  for (let i = 0; i < n; i++) {
    const img = c.images[c.image[i]!]!;
    rows[i] = { repository: c.repository[i]!, tag: c.tag[i]!, digest: c.digest[i]!, id: img.id, created: img.created, size: img.size };
  }
  return rows;
}
