import { createHash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LadingError, canceled, isCode } from '../errors/index.js';
import { autoDecompress, compressStream } from '../compression/index.js';
import { MediaType, hostPlatform, sha256, type Descriptor, type Digest, type ImageConfig } from '../oci/index.js';
import { repositoryName, type Reference } from '../reference/index.js';
import { applyChanges } from './config-changes.js';
import type { LocalImages } from './local-images.js';

export interface ImportOptions {
  /** Dockerfile instructions applied to the config (`--change`). */
  changes?: string[];
  /** History and config comment (`--message`); default `Imported from <source>`. */
  message?: string;
  /** `-` for a file or stdin, the URL otherwise: what the default comment names. */
  source?: string;
  /** REPOSITORY[:TAG] to tag the image with. */
  reference?: Reference;
  /** The clock for `created` (tests). */
  now?: () => Date;
  signal?: AbortSignal;
}

/** Hashes the bytes passing through: the diff ID of the uncompressed layer. */
class DiffIdHasher extends Transform {
  private readonly h = createHash('sha256');
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.h.update(chunk);
    cb(null, chunk);
  }
  digest(): Digest {
    return `sha256:${this.h.digest('hex')}` as Digest;
  }
}

/**
 * `docker import`: a root filesystem tar (plain, gzip or zstd) becomes a one-layer image. The layer
 * is stored gzip-compressed through an ingest, which yields its digest, while the uncompressed bytes
 * are hashed for the diff ID; it is then unpacked like a pulled layer (which checks it is a valid
 * tar), and the image recorded, tagged if a name was given. Returns the image ID.
 */
export async function importImage(local: LocalImages, input: Readable, o: ImportOptions = {}): Promise<Digest> {
  const config = applyChanges({}, o.changes ?? []); // bad changes fail before reading anything
  const lease = local.acquireLease();
  try {
    const hasher = new DiffIdHasher();
    let layer: Descriptor;
    try {
      layer = await local.ingestStream(
        lease,
        MediaType.DockerLayerGzip,
        (w) => pipeline(input, autoDecompress(), hasher, compressStream('gzip'), w, o.signal ? { signal: o.signal } : {}),
        o.signal,
      );
    } catch (e) {
      if (o.signal?.aborted) throw canceled(o.signal);
      throw e;
    }
    const diffId = hasher.digest();
    const created = (o.now?.() ?? new Date()).toISOString();
    const comment = o.message ?? `Imported from ${o.source ?? '-'}`;
    const platform = hostPlatform();
    const cfg: ImageConfig = {
      architecture: platform.architecture,
      ...(platform.variant ? { variant: platform.variant } : {}),
      comment,
      config,
      created,
      history: [{ created, comment }],
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [diffId] },
    };
    const cbytes = Buffer.from(JSON.stringify(cfg));
    const cdesc: Descriptor = { mediaType: MediaType.DockerConfig, digest: sha256(cbytes), size: cbytes.length };
    try {
      await local.unpack(lease, [layer], [diffId], o.signal ? { signal: o.signal } : {});
    } catch (e) {
      if (o.signal?.aborted || isCode(e, 'CANCELED')) throw e;
      // Docker's wording for input that is not a tar archive.
      throw new LadingError('INVALID_ARGUMENT', `Error processing tar file(exit status 1): ${(e as Error).message}`, { cause: e });
    }
    await local.putBytes(lease, cdesc, cbytes);
    const mbytes = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.DockerManifest, config: cdesc, layers: [{ mediaType: layer.mediaType, size: layer.size, digest: layer.digest }] }),
    );
    const mdesc: Descriptor = { mediaType: MediaType.DockerManifest, digest: sha256(mbytes), size: mbytes.length };
    await local.putBytes(lease, mdesc, mbytes);
    const ref = o.reference;
    local.recordImage({
      manifest: { descriptor: mdesc, bytes: mbytes },
      config: { descriptor: cdesc, config: cfg },
      layers: [layer],
      tags: ref ? [{ repository: repositoryName(ref), tag: ref.tag ?? 'latest' }] : [],
    });
    return cdesc.digest;
  } finally {
    local.releaseLease(lease);
  }
}
