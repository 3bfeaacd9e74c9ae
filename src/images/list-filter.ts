import { LadingError } from '../errors/index.js';
import { parseReference, referenceFilterMatch, type Reference } from '../reference/index.js';
import type { ListedImage } from './list-rows.js';
import { parseFilterTimestamp } from './timestamp.js';

/** `--filter key=value` pairs grouped by key, values in the order given. */
export type ImageFilters = Readonly<Record<string, readonly string[]>>;

const LIST_KEYS = new Set(['dangling', 'before', 'since', 'label', 'reference', 'until']);

export function invalidFilter(key: string, values?: readonly string[]): LadingError {
  return new LadingError('INVALID_ARGUMENT', values ? `Invalid filter '${key}=[${values.join(' ')}]'` : `Invalid filter '${key}'`);
}

/** Docker's dangling parse for listing: "true" or "false" must be among the values. */
function danglingValue(values: readonly string[]): boolean {
  if (values.includes('true')) return true;
  if (values.includes('false')) return false;
  throw invalidFilter('dangling', values);
}

const repoCache = new Map<string, Reference>();
function repoRef(repository: string): Reference {
  let r = repoCache.get(repository);
  if (r === undefined) {
    r = parseReference(repository);
    repoCache.set(repository, r);
  }
  return r;
}

/** Config labels against `key` or `key=value` (split at the first `=`). */
export function labelMatches(labels: Readonly<Record<string, string>> | null | undefined, f: string): boolean {
  const eq = f.indexOf('=');
  const key = eq < 0 ? f : f.slice(0, eq);
  if (!labels || !Object.prototype.hasOwnProperty.call(labels, key)) return false;
  return eq < 0 || labels[key] === f.slice(eq + 1);
}

/**
 * `images` filtering as the 20.10 daemon does it (behaviour §3.6), with the reference's
 * recommendations: the last of several before/since values wins; `until` is accepted as newer
 * engines do. Different keys AND, reference values OR, label values AND. A reference filter
 * keeps only the matching references of each image. Without `all`, untagged images with
 * children (intermediate images) are hidden; `dangling=true` never shows them.
 * `resolve` finds an image for before/since (throws NOT_FOUND as Docker does).
 */
export function filterImages(
  images: readonly ListedImage[],
  filters: ImageFilters,
  o: { all: boolean; now: number; resolve: (name: string) => { created: number | undefined } },
): ListedImage[] {
  for (const k of Object.keys(filters)) if (!LIST_KEYS.has(k)) throw invalidFilter(k);
  const danglingVals = filters.dangling;
  const dangling = danglingVals && danglingVals.length > 0 ? danglingValue(danglingVals) : undefined;
  const last = (k: string): string | undefined => filters[k]?.at(-1);
  const before = last('before');
  const since = last('since');
  const until = last('until');
  const beforeT = before !== undefined ? (o.resolve(before).created ?? -Infinity) : undefined;
  const sinceT = since !== undefined ? (o.resolve(since).created ?? -Infinity) : undefined;
  const untilT = until !== undefined ? parseFilterTimestamp(until, o.now) : undefined;
  const labels = filters.label ?? [];
  const patterns = filters.reference ?? [];
  // Validate every pattern up front: a bad one fails even when no image reaches it.
  for (const p of patterns) referenceFilterMatch(p, { domain: 'docker.io', path: 'library/x', tag: 'latest' });

  const out: ListedImage[] = [];
  for (const img of images) {
    const created = img.created ?? -Infinity;
    if (beforeT !== undefined && !(created < beforeT)) continue;
    if (sinceT !== undefined && !(created > sinceT)) continue;
    if (untilT !== undefined && !(created < untilT)) continue;
    if (!labels.every((l) => labelMatches(img.labels, l))) continue;

    let { tags, digests } = img;
    if (patterns.length > 0) {
      tags = tags.filter((t) => patterns.some((p) => referenceFilterMatch(p, { ...repoRef(t.repository), tag: t.tag })));
      digests = digests.filter((d) => patterns.some((p) => referenceFilterMatch(p, { ...repoRef(d.repository), digest: d.digest })));
      if (tags.length === 0 && digests.length === 0) continue;
    }
    const untagged = img.tags.length === 0;
    const noRefs = untagged && img.digests.length === 0;
    if (dangling === true && (!untagged || img.hasChildren)) continue;
    if (dangling === false && noRefs) continue;
    if (noRefs && img.hasChildren && !o.all && dangling !== true) continue;
    out.push(tags === img.tags && digests === img.digests ? img : { ...img, tags, digests });
  }
  return out;
}
