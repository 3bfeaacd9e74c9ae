import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LadingError } from '../errors/index.js';
import { storeBlob, type ContentStore } from '../content/index.js';
import { blobs, digestRefs, images, indexes, leases, resolveImage, tags, type Db, type ImageRecord, type LeaseId } from '../metadata/index.js';
import {
  MAX_MANIFEST_BYTES,
  chainIds,
  parseImageConfig,
  parseManifest,
  type Descriptor,
  type Digest,
  type ImageConfig,
  type ImageManifest,
} from '../oci/index.js';
import type { ImageStore } from './image-store.js';
import { parseName } from './queries.js';

/** A local image read whole: its manifest (exact bytes), config and layers. */
export interface LocalImage {
  record: ImageRecord;
  manifest: { descriptor: Descriptor; bytes: Buffer; manifest: ImageManifest };
  config: { descriptor: Descriptor; bytes: Buffer; config: ImageConfig };
}

/** A new image to record, all of whose blobs are committed to the content store. */
export interface NewImage {
  manifest: { descriptor: Descriptor; bytes: Uint8Array };
  config: { descriptor: Descriptor; config: ImageConfig };
  layers: Descriptor[];
  /** Full repository names with tags to point at the image (`docker.io/library/x`, `1`). */
  tags: Array<{ repository: string; tag: string }>;
  digestRefs?: Array<{ repository: string; digest: Digest }>;
  source?: { registry: string; repository: string };
}

/**
 * What push, save, load, import and copy need of the local store beyond the pull path: read images
 * back, write blobs from streams, unpack and record new images exactly as a pull records them
 * (blobs, snapshots by chain ID, image row and edges, tags, digests) under a lease.
 */
export class LocalImages {
  constructor(readonly store: ImageStore, readonly db: Db, readonly content: ContentStore) {}

  /** NAME[:TAG], NAME@DIGEST, ID or ID prefix, as inspect resolves them. */
  find(name: string): ImageRecord | undefined {
    return this.db.read((tx) => resolveImage(tx, name, parseName)?.image);
  }

  findTag(repository: string, tag: string): ImageRecord | undefined {
    return this.db.read((tx) => {
      const id = tags.find(tx, repository, tag);
      return id ? images.find(tx, id) : undefined;
    });
  }

  tagsOf(repository: string): Array<{ tag: string; imageId: Digest }> {
    return this.db.read((tx) => tags.forRepository(tx, repository));
  }

  tagsOfImage(id: Digest): Array<{ repository: string; tag: string }> {
    return this.db.read((tx) => tags.forImage(tx, id));
  }

  async read(record: ImageRecord, signal?: AbortSignal): Promise<LocalImage> {
    const o = { maxBytes: MAX_MANIFEST_BYTES, ...(signal ? { signal } : {}) };
    const mbytes = await this.content.readAll(record.target.digest, o).catch((e: unknown) => {
      throw new LadingError('NOT_FOUND', `manifest ${record.target.digest} of image ${record.id} is missing from the store`, { cause: e });
    });
    const parsed = parseManifest(mbytes, record.target.mediaType);
    if (parsed.kind !== 'manifest') throw new LadingError('MANIFEST_INVALID', `image ${record.id}: target is not an image manifest`);
    const cbytes = await this.content.readAll(parsed.manifest.config.digest, o);
    return {
      record,
      manifest: { descriptor: { ...record.target }, bytes: mbytes, manifest: parsed.manifest },
      config: { descriptor: parsed.manifest.config, bytes: cbytes, config: parseImageConfig(cbytes) },
    };
  }

  async hasBlob(d: Digest): Promise<boolean> {
    return (await this.content.info(d)) !== undefined;
  }

  /**
   * A committed blob from `offset`. Read from its path in 1 MiB chunks: uploads and archive writes
   * move hundreds of megabytes, and the default 64 KiB chunks cost a stream hop each.
   */
  async openBlob(d: Digest, offset = 0, signal?: AbortSignal): Promise<Readable> {
    const info = await this.content.info(d);
    if (!info) return this.content.open(d, { ...(offset > 0 ? { start: offset } : {}), ...(signal ? { signal } : {}) });
    if (offset > info.size) throw new LadingError('INVALID_ARGUMENT', `offset ${offset} is past the end of ${d}`);
    return createReadStream(this.content.path(d), { start: offset, highWaterMark: 1024 * 1024, ...(signal ? { signal } : {}) });
  }

  /** Every blob digest the store holds (what `lading inventory` prints). */
  blobDigests(): Digest[] {
    return this.db.read((tx) => tx.all<{ digest: string }>(`SELECT digest FROM blobs ORDER BY digest`).map((r) => r.digest as Digest));
  }

  /** Repositories on `registry` known to hold the blob (pulled from or pushed to), most recent first. */
  mountSources(digest: Digest, registry: string): string[] {
    return this.db.read((tx) => blobs.sources(tx, digest)).filter((s) => s.registry === registry).map((s) => s.repository);
  }

  /** After a push: the registry repository holds these blobs, and repo@digest names the image. */
  recordPushed(id: Digest, repository: string, digest: Digest, source: { registry: string; repository: string }, pushed: Descriptor[]): void {
    this.db.tx((tx) => {
      for (const d of pushed) if (blobs.find(tx, d.digest)) blobs.put(tx, { digest: d.digest, size: d.size, mediaType: d.mediaType, source });
      if (images.find(tx, id)) {
        digestRefs.add(tx, repository, digest, id);
        images.touch(tx, id); // a push is a use: prune --unused-for and --keep-storage spare it
      }
    });
  }

  acquireLease(): LeaseId {
    return this.store.acquireLease();
  }

  releaseLease(l: LeaseId): void {
    this.store.releaseLease(l);
  }

  /** Store a blob whose digest is known, from a stream opened at an offset (resumable, verified). */
  async putBlob(lease: LeaseId, d: Descriptor, open: (offset: number) => Promise<Readable>, signal?: AbortSignal): Promise<void> {
    this.holdBlob(lease, d.digest);
    await storeBlob(this.content, d, async (offset) => open(offset), signal ? { signal } : {});
    this.db.tx((tx) => blobs.put(tx, { digest: d.digest, size: d.size, mediaType: d.mediaType }));
  }

  async putBytes(lease: LeaseId, d: Descriptor, bytes: Uint8Array): Promise<void> {
    await this.putBlob(lease, d, async () => Readable.from([Buffer.from(bytes)]));
  }

  /**
   * Write a stream of unknown digest: through a fresh ingest, whose commit hashes it. `write` gets the
   * ingest's writable and must end it (a pipeline into it does).
   */
  async ingestStream(lease: LeaseId, mediaType: string, write: (w: Writable) => Promise<void>, signal?: AbortSignal): Promise<Descriptor> {
    const ing = await this.content.ingest(`new-${process.pid}-${randomBytes(8).toString('hex')}`, undefined, signal ? { signal } : {});
    try {
      await write(ing.writable());
      const c = await ing.commit();
      this.holdBlob(lease, c.digest);
      this.db.tx((tx) => blobs.put(tx, { digest: c.digest, size: c.size, mediaType }));
      return { mediaType, digest: c.digest, size: c.size };
    } catch (e) {
      await ing.abort().catch(() => {});
      throw e;
    }
  }

  /** Blob committed earlier (e.g. by an interrupted load) but not yet recorded: record it. */
  recordBlob(d: Descriptor): void {
    this.db.tx((tx) => blobs.put(tx, { digest: d.digest, size: d.size, mediaType: d.mediaType }));
  }

  private holdBlob(lease: LeaseId, digest: Digest): void {
    this.db.tx((tx) => leases.add(tx, lease, 'blob', digest));
  }

  /** Unpack every layer not yet unpacked, bottom first; each layer's diff ID is checked. */
  async unpack(lease: LeaseId, layers: Descriptor[], diffIds: Digest[], o: { signal?: AbortSignal; onLayer?: (i: number, current: number) => void } = {}): Promise<Digest[]> {
    if (layers.length !== diffIds.length) {
      throw new LadingError('MANIFEST_INVALID', `manifest invalid: ${layers.length} layers but ${diffIds.length} diff IDs in the config`);
    }
    const chains = chainIds(diffIds);
    if (this.store.skipUnpack) return chains;
    for (let i = 0; i < layers.length; i++) {
      if (this.store.hasSnapshot(chains[i]!)) continue;
      await this.store.unpackLayer(
        lease,
        { desc: layers[i]!, diffId: diffIds[i]!, chainId: chains[i]!, parent: i > 0 ? chains[i - 1] : undefined },
        { ...(o.signal ? { signal: o.signal } : {}), onProgress: (n) => o.onLayer?.(i, n) },
      );
    }
    return chains;
  }

  /**
   * Record an image whose blobs are committed and layers unpacked, in one transaction; tags move
   * to it. Returns, per tag, the image it was taken from (Docker's "renaming the old one").
   */
  recordImage(img: NewImage): Array<{ repository: string; tag: string; previous?: Digest }> {
    const config = img.config.config;
    const created = config.created ? Date.parse(config.created) : undefined;
    const chains = chainIds(config.rootfs.diff_ids);
    return this.db.tx((tx) => {
      for (const d of [img.manifest.descriptor, img.config.descriptor, ...img.layers]) {
        blobs.put(tx, { digest: d.digest, size: d.size, mediaType: d.mediaType, ...(img.source ? { source: img.source } : {}) });
      }
      const id = img.config.descriptor.digest;
      images.put(tx, {
        id,
        target: { digest: img.manifest.descriptor.digest, mediaType: img.manifest.descriptor.mediaType, size: img.manifest.descriptor.size },
        created: created === undefined || Number.isNaN(created) ? undefined : created,
        platform: { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) },
        labels: config.config?.Labels ?? {},
        layers: img.layers.map((l) => l.digest),
        // Every snapshot must be recorded (unpack first); images.put refuses otherwise.
        chainIds: this.store.skipUnpack ? [] : chains,
      });
      const out: Array<{ repository: string; tag: string; previous?: Digest }> = [];
      for (const t of img.tags) {
        const r = tags.set(tx, t.repository, t.tag, id);
        out.push({ ...t, ...(r.previous ? { previous: r.previous } : {}) });
      }
      for (const d of img.digestRefs ?? []) digestRefs.add(tx, d.repository, d.digest, id);
      return out;
    });
  }

  /** Index rows for a pushed or loaded index (kept so save can reproduce it). */
  recordIndex(desc: Descriptor, children: Descriptor[]): void {
    this.db.tx((tx) => indexes.put(tx, { digest: desc.digest, mediaType: desc.mediaType, size: desc.size, children }));
  }
}

/** Copy a readable into a writable with backpressure and full error propagation. */
export async function pump(src: Readable, dst: Writable, signal?: AbortSignal): Promise<void> {
  await pipeline(src, dst, signal ? { signal } : {});
}
