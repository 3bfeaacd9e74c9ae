import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tarStream } from '../util/index.js';
import { LadingError } from '../errors/index.js';
import { digestHex, parseDigest, type Descriptor, type Digest } from '../oci/index.js';

/** One line of a docker-archive's `manifest.json`. */
export interface ArchiveManifestEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

/** An image as written into an archive or OCI layout: exact manifest and config bytes, layer blobs. */
export interface ArchiveImage {
  manifest: { descriptor: Descriptor; bytes: Uint8Array };
  config: { descriptor: Descriptor; bytes: Uint8Array };
  layers: Array<{ descriptor: Descriptor; open(): Promise<Readable> }>;
  /** Names to record: full repository (`docker.io/library/x`), familiar (`x`) and tag. */
  names: Array<{ full: string; familiar: string; tag: string }>;
}

export const blobPath = (d: Digest): string => `blobs/${d.slice(0, d.indexOf(':'))}/${digestHex(d)}`;

/** `blobs/sha256/<hex>` -> digest, or undefined for any other path. */
export function digestOfBlobPath(p: string): Digest | undefined {
  const m = /^blobs\/([a-z0-9]+)\/([0-9a-f]+)$/.exec(p);
  if (!m) return undefined;
  try {
    return parseDigest(`${m[1]}:${m[2]}`);
  } catch {
    return undefined;
  }
}

export const OCI_LAYOUT = JSON.stringify({ imageLayoutVersion: '1.0.0' });

/** `index.json` for images: one descriptor per name, annotated as Docker 25+ and containerd do. */
export function layoutIndex(images: ArchiveImage[]): Buffer {
  const manifests: Descriptor[] = [];
  for (const img of images) {
    const d = { mediaType: img.manifest.descriptor.mediaType, digest: img.manifest.descriptor.digest, size: img.manifest.descriptor.size };
    if (img.names.length === 0) manifests.push(d);
    for (const n of img.names) {
      manifests.push({ ...d, annotations: { 'io.containerd.image.name': `${n.full}:${n.tag}`, 'org.opencontainers.image.ref.name': n.tag } });
    }
  }
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
}

export interface WriteArchiveOptions {
  /** Blobs the receiver holds already (an offline bundle): listed but not written. */
  omit?: ReadonlySet<string>;
  signal?: AbortSignal;
}

/**
 * Write a tar that `docker load` accepts (manifest.json, repositories) and that is also an OCI image
 * layout (oci-layout, index.json, blobs/), as Docker 25+ writes. Layers are written as stored (their
 * blob digests name them); Docker's load decompresses them and checks their diff IDs. Each blob once.
 */
export async function writeImageArchive(out: Writable, images: ArchiveImage[], o: WriteArchiveOptions = {}): Promise<{ blobs: number; omitted: number }> {
  const p = tarStream().pack();
  const done = pipeline(p, out, o.signal ? { signal: o.signal } : {});
  const written = new Set<string>();
  let omitted = 0;
  const mtime = new Date(0);
  const addBytes = (name: string, b: Uint8Array) =>
    new Promise<void>((resolve, reject) => p.entry({ name, size: b.length, mode: 0o644, mtime }, Buffer.from(b), (e) => (e ? reject(e) : resolve())));
  const addBlob = async (d: Descriptor, bytes: Uint8Array | undefined, open?: () => Promise<Readable>) => {
    if (written.has(d.digest)) return;
    written.add(d.digest);
    if (o.omit?.has(d.digest)) {
      omitted++;
      return;
    }
    if (bytes) return addBytes(blobPath(d.digest), bytes);
    const src = await open!();
    await new Promise<void>((resolve, reject) => {
      const entry = p.entry({ name: blobPath(d.digest), size: d.size, mode: 0o644, mtime }, (e) => (e ? reject(e) : resolve()));
      pipeline(src, entry).catch(reject);
    });
  };
  try {
    for (const dir of ['blobs/', 'blobs/sha256/']) {
      await new Promise<void>((resolve, reject) => p.entry({ name: dir, type: 'directory', mode: 0o755, mtime }, (e) => (e ? reject(e) : resolve())));
    }
    for (const img of images) {
      for (const l of img.layers) await addBlob(l.descriptor, undefined, l.open);
      await addBlob(img.config.descriptor, img.config.bytes);
      await addBlob(img.manifest.descriptor, img.manifest.bytes);
    }
    await addBytes('oci-layout', Buffer.from(OCI_LAYOUT));
    await addBytes('index.json', layoutIndex(images));
    const manifest: ArchiveManifestEntry[] = images.map((img) => ({
      Config: blobPath(img.config.descriptor.digest),
      RepoTags: img.names.length ? img.names.map((n) => `${n.familiar}:${n.tag}`) : null,
      Layers: img.layers.map((l) => blobPath(l.descriptor.digest)),
    }));
    await addBytes('manifest.json', Buffer.from(JSON.stringify(manifest)));
    const repos: Record<string, Record<string, string>> = {};
    for (const img of images) {
      const top = img.layers.at(-1);
      if (!top) continue;
      for (const n of img.names) (repos[n.familiar] ??= {})[n.tag] = digestHex(top.descriptor.digest);
    }
    if (Object.keys(repos).length) await addBytes('repositories', Buffer.from(JSON.stringify(repos)));
    p.finalize();
    await done;
  } catch (e) {
    p.destroy(e as Error);
    await done.catch(() => {});
    throw e;
  }
  return { blobs: written.size - omitted, omitted };
}

/** Parse `manifest.json`; a malformed one is refused with a clear message. */
export function parseArchiveManifest(b: Buffer): ArchiveManifestEntry[] {
  let v: unknown;
  try {
    v = JSON.parse(b.toString('utf8'));
  } catch (e) {
    throw new LadingError('INVALID_ARGUMENT', `invalid manifest.json in archive: ${(e as Error).message}`);
  }
  if (!Array.isArray(v)) throw new LadingError('INVALID_ARGUMENT', 'invalid manifest.json in archive: not a list');
  return v.map((e: unknown) => {
    const r = e as Partial<ArchiveManifestEntry>;
    if (typeof r?.Config !== 'string' || !Array.isArray(r.Layers) || !r.Layers.every((l) => typeof l === 'string')) {
      throw new LadingError('INVALID_ARGUMENT', 'invalid manifest.json in archive: entry without Config or Layers');
    }
    const tags = Array.isArray(r.RepoTags) ? r.RepoTags.filter((t): t is string => typeof t === 'string') : null;
    return { Config: normalisePath(r.Config), RepoTags: tags && tags.length ? tags : null, Layers: r.Layers.map(normalisePath) };
  });
}

const normalisePath = (s: string) => s.replace(/^(?:\.?\/)+/, '');
