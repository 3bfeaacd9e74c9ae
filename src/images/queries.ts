import { readFileSync } from 'node:fs';
import { LadingError } from '../errors/index.js';
import type { ContentStore } from '../content/index.js';
import { digestRefs, images, resolveImage, snapshots, tags, type Db, type ImageRecord, type ParsedName } from '../metadata/index.js';
import { parseImageConfig, MAX_MANIFEST_BYTES } from '../oci/index.js';
import { familiarString, parseReference, repositoryName, withDefaultTag } from '../reference/index.js';
import { inspectView, type ImageInspect } from './inspect-view.js';
import { familiarRepository, packedImageRows, type ImageRowColumns, type ListedImage } from './list-rows.js';

/** The reference parser in metadata's terms; unparsable strings fall through to ID prefixes. */
export function parseName(s: string): ParsedName | undefined {
  let r;
  try {
    r = parseReference(s);
  } catch {
    return undefined;
  }
  return { repository: repositoryName(r), tag: r.tag, digest: r.digest };
}

/** Docker's not-found wording: the familiar reference with the default tag. */
export function noSuchImage(name: string): LadingError {
  let shown = name;
  try {
    shown = familiarString(withDefaultTag(parseReference(name)));
  } catch {
    // not a reference: show it as given
  }
  return new LadingError('NOT_FOUND', `No such image: ${shown}`);
}

export function findImage(db: Db, name: string): ImageRecord {
  const found = db.read((tx) => resolveImage(tx, name, parseName));
  if (!found) throw noSuchImage(name);
  return found.image;
}

/** Every image with its references, newest first: the listing rows are the result (no copy). */
export function listImages(db: Db): ListedImage[] {
  return db.read((tx) => images.listForDisplay(tx));
}

/**
 * The rows of `images` without filters, straight from the store's packed listing: no object
 * per reference or per row (the default table of a 50k-tag store).
 */
export function listImageRows(db: Db, o: { all: boolean; digests: boolean }): ImageRowColumns {
  return packedImageRows(db.read((tx) => images.listPacked(tx)), o);
}

export function inspectImage(db: Db, content: ContentStore, name: string, o: { graphDriver: string }): ImageInspect {
  const { image, tagRefs, digestRefs: dRefs, chain } = db.read((tx) => {
    const found = resolveImage(tx, name, parseName);
    if (!found) throw noSuchImage(name);
    // Docker sorts RepoTags and RepoDigests by their full reference strings.
    const byFull = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    return {
      image: found.image,
      tagRefs: tags.forImage(tx, found.image.id).sort((a, b) => byFull(`${a.repository}:${a.tag}`, `${b.repository}:${b.tag}`)),
      digestRefs: digestRefs.forImage(tx, found.image.id).sort((a, b) => byFull(`${a.repository}@${a.digest}`, `${b.repository}@${b.digest}`)),
      chain: snapshots.forImage(tx, found.image.id),
    };
  });
  const configBytes = readConfigSync(content, image.id);
  const config = parseImageConfig(configBytes);
  return inspectView({
    id: image.id,
    repoTags: tagRefs.map((t) => `${familiarRepository(t.repository)}:${t.tag}`),
    repoDigests: dRefs.map((d) => `${familiarRepository(d.repository)}@${d.digest}`),
    config,
    size: image.size,
    ...(image.lastTagTime !== undefined ? { lastTagTime: image.lastTagTime } : {}),
    graphDriver: { Name: o.graphDriver, Data: chain.length ? { Layers: chain.map((c) => c.chainId).join(':') } : null },
  });
}

/** Configs are small (capped at 4 MiB) and inspect is synchronous like the rest of the read path. */
export function readConfigSync(content: ContentStore, id: string): Buffer {
  const path = content.path(id as Parameters<ContentStore['path']>[0]);
  let b: Buffer;
  try {
    b = readFileSync(path);
  } catch (e) {
    throw new LadingError('NOT_FOUND', `image config ${id} is missing from the content store (run lading system check)`, { cause: e });
  }
  if (b.length > MAX_MANIFEST_BYTES) throw new LadingError('MANIFEST_INVALID', `image config ${id} is too large`);
  return b;
}
