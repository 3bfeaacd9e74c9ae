import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LadingError } from '../errors/index.js';
import { MAX_MANIFEST_BYTES, VerifyingStream, isIndexType, parseManifest, type Descriptor, type Digest } from '../oci/index.js';
import { atomicWrite } from '../util/index.js';
import { OCI_LAYOUT, blobPath } from './image-archive.js';

interface LayoutIndex {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
}

/**
 * An OCI image layout directory (`oci:DIR[:TAG]` as skopeo names it): blobs under
 * `blobs/<alg>/<hex>`, written through a temp file and renamed after their digest is checked;
 * `index.json` replaced atomically, one entry per `org.opencontainers.image.ref.name`.
 */
export class OciDir {
  constructor(readonly dir: string) {}

  private async index(): Promise<LayoutIndex> {
    let text: string;
    try {
      text = await readFile(join(this.dir, 'index.json'), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] };
      throw e;
    }
    const parsed = parseManifest(Buffer.from(text), 'application/vnd.oci.image.index.v1+json');
    if (parsed.kind !== 'index') throw new LadingError('INVALID_ARGUMENT', `${this.dir}/index.json is not an image index`);
    return { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: parsed.index.manifests };
  }

  /** The manifest named `tag` (ref.name), or the only one when no tag is given. */
  async find(tag: string | undefined): Promise<Descriptor> {
    const ix = await this.index();
    const found = tag === undefined ? (ix.manifests.length === 1 ? ix.manifests[0] : undefined) : ix.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
    if (!found) {
      throw new LadingError('NOT_FOUND', tag === undefined ? `${this.dir}: no tag given and the layout holds ${ix.manifests.length} images` : `${this.dir}: no image tagged ${tag}`);
    }
    return found;
  }

  async readSmall(d: Descriptor): Promise<Buffer> {
    if (d.size > MAX_MANIFEST_BYTES) throw new LadingError('MANIFEST_INVALID', `${d.digest} is larger than ${MAX_MANIFEST_BYTES} bytes`);
    return readFile(join(this.dir, blobPath(d.digest)));
  }

  async open(d: Digest, offset = 0): Promise<Readable> {
    const p = join(this.dir, blobPath(d));
    await stat(p).catch(() => {
      throw new LadingError('NOT_FOUND', `${this.dir}: blob ${d} is missing`);
    });
    return createReadStream(p, { start: offset, highWaterMark: 1024 * 1024 });
  }

  async has(d: Descriptor): Promise<boolean> {
    const s = await stat(join(this.dir, blobPath(d.digest))).catch(() => undefined);
    return s?.size === d.size;
  }

  /** Write a blob, verified against its descriptor before it gets its name. */
  async put(d: Descriptor, src: Readable): Promise<void> {
    if (await this.has(d)) {
      src.destroy();
      return;
    }
    const final = join(this.dir, blobPath(d.digest));
    await mkdir(join(final, '..'), { recursive: true });
    const tmp = `${final}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await pipeline(src, new VerifyingStream({ digest: d.digest, size: d.size }), createWriteStream(tmp));
      const fh = await open(tmp, 'r');
      await fh.sync();
      await fh.close();
      await rename(tmp, final);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /** Name a manifest in index.json (replacing an entry with the same tag) and write oci-layout. */
  async tag(d: Descriptor, tag: string | undefined): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await atomicWrite(join(this.dir, 'oci-layout'), OCI_LAYOUT);
    const ix = await this.index();
    const entry: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size, ...(tag ? { annotations: { 'org.opencontainers.image.ref.name': tag } } : {}) };
    ix.manifests = ix.manifests.filter((m) => (tag ? m.annotations?.['org.opencontainers.image.ref.name'] !== tag : m.digest !== d.digest));
    ix.manifests.push(entry);
    await atomicWrite(join(this.dir, 'index.json'), JSON.stringify(ix));
  }

  isIndex(d: Descriptor): boolean {
    return isIndexType(d.mediaType);
  }
}
