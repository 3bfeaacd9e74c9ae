import type { Writable } from 'node:stream';
import { LadingError } from '../errors/index.js';
import { writeImageArchive, type ArchiveImage } from '../formats/index.js';
import { formatPlatform, platformMatches, type Digest, type Platform } from '../oci/index.js';
import { familiarName, parseReference, repositoryName } from '../reference/index.js';
import type { LocalImages } from './local-images.js';
import { noSuchImage } from './queries.js';

export interface SaveOptions {
  /** Only images for this platform (the store holds one platform per image: others are an error). */
  platform?: Platform;
  /** Digests the receiving store holds (`lading inventory` there): left out of the archive. */
  have?: Iterable<string>;
  signal?: AbortSignal;
}

export interface SaveResult {
  images: number;
  blobs: number;
  omitted: number;
}

/** Familiar and full forms of a full repository name (`docker.io/library/x` -> `x`). */
export function repoNames(repository: string): { full: string; familiar: string } {
  const r = parseReference(repository);
  return { full: repositoryName(r), familiar: familiarName(r) };
}

/**
 * Resolve the arguments as `docker save` does: `name:tag` saves that tag, a bare repository name
 * saves every tag of it, an ID or `name@digest` saves the image untagged. Images are grouped by ID
 * in first-seen order, each with its tags in argument order.
 */
export function selectImages(local: LocalImages, names: string[]): Array<{ id: Digest; tags: Array<{ repository: string; tag: string }> }> {
  const out = new Map<Digest, Array<{ repository: string; tag: string }>>();
  const add = (id: Digest, t?: { repository: string; tag: string }) => {
    let list = out.get(id);
    if (!list) out.set(id, (list = []));
    if (t && !list.some((x) => x.repository === t.repository && x.tag === t.tag)) list.push(t);
  };
  for (const name of names) {
    let ref;
    try {
      ref = parseReference(name);
    } catch {
      ref = undefined;
    }
    if (ref && !ref.tag && !ref.digest) {
      const all = local.tagsOf(repositoryName(ref));
      if (all.length) {
        for (const t of all) add(t.imageId, { repository: repositoryName(ref), tag: t.tag });
        continue;
      }
    }
    const rec = local.find(name);
    if (!rec) throw noSuchImage(name);
    if (ref && ref.tag && !ref.digest && local.findTag(repositoryName(ref), ref.tag)?.id === rec.id) add(rec.id, { repository: repositoryName(ref), tag: ref.tag });
    else add(rec.id);
  }
  return [...out].map(([id, tags]) => ({ id, tags }));
}

/** `docker save`: write the images as a docker-archive that is also an OCI layout. */
export async function saveImages(local: LocalImages, names: string[], out: Writable, o: SaveOptions = {}): Promise<SaveResult> {
  if (names.length === 0) throw new LadingError('INVALID_ARGUMENT', 'no images to save');
  const chosen = selectImages(local, names);
  const images: ArchiveImage[] = [];
  for (const c of chosen) {
    const rec = local.find(c.id)!;
    if (o.platform && !platformMatches(o.platform, rec.platform)) {
      throw new LadingError('NOT_FOUND', `image ${c.id} does not provide the specified platform (${formatPlatform(o.platform)})`);
    }
    const img = await local.read(rec, o.signal);
    if (img.manifest.manifest.layers.length === 0) throw new LadingError('UNSUPPORTED', 'empty export - not implemented');
    images.push({
      manifest: { descriptor: img.manifest.descriptor, bytes: img.manifest.bytes },
      config: { descriptor: img.config.descriptor, bytes: img.config.bytes },
      layers: img.manifest.manifest.layers.map((l) => ({ descriptor: l, open: () => local.openBlob(l.digest, 0, o.signal) })),
      names: c.tags.map((t) => ({ ...repoNames(t.repository), tag: t.tag })),
    });
  }
  const omit = o.have ? new Set(o.have) : undefined;
  // Fail before writing anything when a layer is missing (not after half an archive).
  for (const img of images) {
    for (const l of img.layers) {
      if (!omit?.has(l.descriptor.digest) && !(await local.hasBlob(l.descriptor.digest))) {
        throw new LadingError('NOT_FOUND', `layer ${l.descriptor.digest} is missing from the store`);
      }
    }
  }
  const r = await writeImageArchive(out, images, { ...(omit ? { omit } : {}), ...(o.signal ? { signal: o.signal } : {}) });
  return { images: images.length, ...r };
}

/** `lading inventory`: the digests this store holds, one per line, for `save --have` elsewhere. */
export function inventory(local: LocalImages): string[] {
  return local.blobDigests();
}
