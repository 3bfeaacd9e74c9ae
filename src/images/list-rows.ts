import type { Digest } from '../oci/index.js';
import { familiarName, parseReference } from '../reference/index.js';

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
export function familiarRepository(full: string): string {
  let f = familiarRepoCache.get(full);
  if (f === undefined) {
    f = familiarName(parseReference(full));
    familiarRepoCache.set(full, f);
  }
  return f;
}

/**
 * Docker's rows (behaviour §3.2): one per (repository, tag); a repository with only digests gets
 * one `<none>` tag row (one per digest with --digests); an image with no references one
 * `<none> <none>` row. With `digests`, tag rows repeat once per digest of the same repository.
 * Images newest first; repositories in a stable (sorted) order where Docker's is random.
 */
export function imageRows(images: ListedImage[], o: { digests: boolean }): ImageRow[] {
  const key = (i: ListedImage) => (i.created === undefined ? -Infinity : Math.floor(i.created / 1000));
  const sorted = [...images].sort((a, b) => key(b) - key(a) || (a.id < b.id ? -1 : 1));
  const rows: ImageRow[] = [];
  const row = (img: ListedImage, repository: string, tag: string, digest: string): ImageRow => ({
    repository,
    tag,
    digest,
    id: img.id,
    created: img.created,
    size: img.size,
  });
  for (const img of sorted) {
    if (img.tags.length === 0 && img.digests.length === 0) {
      rows.push(row(img, '<none>', '<none>', '<none>'));
      continue;
    }
    // Most images have one repository: skip the grouping work then.
    const first = img.tags[0]?.repository ?? img.digests[0]!.repository;
    const single = img.tags.every((t) => t.repository === first) && img.digests.every((d) => d.repository === first);
    const repos = single ? [first] : [...new Set([...img.tags.map((t) => t.repository), ...img.digests.map((d) => d.repository)])].sort();
    for (const repo of repos) {
      const fam = familiarRepository(repo);
      const tags = single ? img.tags.map((t) => t.tag) : img.tags.filter((t) => t.repository === repo).map((t) => t.tag);
      const digests = single ? img.digests.map((d) => d.digest) : img.digests.filter((d) => d.repository === repo).map((d) => d.digest);
      if (tags.length === 0) {
        if (o.digests && digests.length > 0) for (const digest of digests) rows.push(row(img, fam, '<none>', digest));
        else rows.push(row(img, fam, '<none>', o.digests ? '<none>' : ''));
        continue;
      }
      for (const tag of tags) {
        if (o.digests && digests.length > 0) for (const digest of digests) rows.push(row(img, fam, tag, digest));
        else rows.push(row(img, fam, tag, '<none>'));
      }
    }
  }
  return rows;
}
