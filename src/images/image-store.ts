import { Readable, Transform, type TransformCallback } from 'node:stream';
import { LadingError } from '../errors/index.js';
import { storeBlob, type ContentStore } from '../content/index.js';
import { blobs, images, indexes, leases, snapshots, tags, digestRefs, type Db, type LeaseId, type Tx } from '../metadata/index.js';
import { layerCompression, type Descriptor, type Digest, type ImageConfig, type ImageManifest } from '../oci/index.js';
import { repositoryName, type Reference } from '../reference/index.js';
import type { RegistryClient, Repository } from '../remote/index.js';
import { applyLayerSnapshot, type Snapshotter } from '../snapshot/index.js';
import { autoDecompress } from '../compression/index.js';
import { prewarmApplyThreads } from '../archive/index.js';

/** A snapshotter that can sweep what crashed processes left (the directory snapshotters can). */
type RepairableSnapshotter = Snapshotter & { cleanup?: () => Promise<void> };
import type { Clock, Semaphore } from '../util/index.js';

/** Layers from this size (compressed) unpack in a worker thread; below, the thread start costs more than it saves. */
const WORKER_MIN_BYTES = 1024 * 1024;

/** Leases outlive a crashed process by this much at most; pulls renew them as they go. */
const LEASE_TTL_MS = 60 * 60 * 1000;

export interface ImageStoreDeps {
  db: Db;
  content: ContentStore;
  snapshotter: RepairableSnapshotter;
  remote: RegistryClient;
  clock: Clock;
  /** Per-registry download limit (dockerd's max-concurrent-downloads). */
  downloadLimit(registry: string): Semaphore;
  asRoot: boolean;
  /** Fetch blobs only, without unpacking (for benchmarks against skopeo). */
  skipUnpack?: boolean;
  /** Partial downloads untouched for longer than this are removed by repair(). */
  ingestResumeWindowMs: number;
}

export interface RecordPulled {
  id: Digest;
  ref: Reference;
  manifest: { descriptor: Descriptor; manifest: ImageManifest };
  index: Descriptor | undefined;
  indexChildren?: Descriptor[];
  config: ImageConfig;
  configDescriptor: Descriptor;
  layers: Array<{ blob: Descriptor; chainId: Digest; diffId: Digest }>;
  repo: Repository;
}

/** Counts bytes read from a committed blob, for the Extracting progress. */
class CountingStream extends Transform {
  private n = 0;
  constructor(private readonly onBytes: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.n += chunk.length;
    this.onBytes(this.n);
    cb(null, chunk);
  }
}

/**
 * The pull's view of the local store: content, metadata and snapshots wired together under the
 * ordering invariant (files visible before the rows naming them; leases guard work in progress).
 */
export class ImageStore {
  private repaired: Promise<void> | undefined;
  constructor(private readonly d: ImageStoreDeps) {}

  /**
   * Cheap, idempotent start-up repair, once per engine: stale partial downloads past the resume
   * window and extraction directories of dead processes go. Safe beside other live processes.
   */
  repair(): Promise<void> {
    this.repaired ??= (async () => {
      await this.d.content.cleanupIngests({ olderThanMs: this.d.ingestResumeWindowMs });
      await this.d.snapshotter.cleanup?.();
    })();
    return this.repaired;
  }

  get remote(): RegistryClient {
    return this.d.remote;
  }

  get skipUnpack(): boolean {
    return this.d.skipUnpack === true;
  }

  downloadLimit(registry: string): Semaphore {
    return this.d.downloadLimit(registry);
  }

  acquireLease(): LeaseId {
    return this.d.db.tx((tx) => leases.acquire(tx, LEASE_TTL_MS));
  }

  releaseLease(id: LeaseId): void {
    this.d.db.tx((tx) => leases.release(tx, id));
  }

  hasSnapshot(chainId: Digest): boolean {
    return this.d.db.read((tx) => snapshots.find(tx, chainId) !== undefined);
  }

  /**
   * Which of these blobs are stored. They are leased in the same transaction as the check, so a
   * concurrent rmi or prune cannot collect them between this answer and the image row that will
   * reference them.
   */
  holdBlobs(lease: LeaseId, digests: Digest[]): boolean[] {
    return this.hold(lease, 'blob', digests, (tx, d) => blobs.find(tx, d) !== undefined);
  }

  /** Which of these snapshots are committed, leased in the same transaction (see holdBlobs). */
  holdSnapshots(lease: LeaseId, chainIds: Digest[]): boolean[] {
    return this.hold(lease, 'snapshot', chainIds, (tx, c) => snapshots.find(tx, c) !== undefined);
  }

  /** Lease `keys` in one transaction; `present` answers for each inside it. */
  private hold(lease: LeaseId, kind: 'blob' | 'snapshot', keys: readonly Digest[], present?: (tx: Tx, key: Digest) => boolean): boolean[] {
    return this.d.db.tx((tx) => {
      const out = keys.map((k) => {
        leases.add(tx, lease, kind, k);
        return present?.(tx, k) ?? true;
      });
      leases.renew(tx, lease, LEASE_TTL_MS);
      return out;
    });
  }

  hasImage(id: Digest): boolean {
    return this.d.db.read((tx) => images.find(tx, id) !== undefined);
  }

  /** Manifests and indexes arrive whole and verified; write them as blobs. */
  async putSmallBlob(lease: LeaseId, desc: Descriptor, bytes: Uint8Array, repo: Repository): Promise<void> {
    this.hold(lease, 'blob', [desc.digest]);
    await storeBlob(this.d.content, desc, async () => bufferStream(bytes));
    this.d.db.tx((tx) => blobs.put(tx, { digest: desc.digest, size: desc.size, mediaType: desc.mediaType, source: repo }));
  }

  /** A config: fetch into the store when absent, then read it back (capped). */
  async fetchSmallBlob(lease: LeaseId, repo: Repository, desc: Descriptor, o: { signal?: AbortSignal; maxBytes: number }): Promise<Buffer> {
    if (desc.size > o.maxBytes) throw new LadingError('MANIFEST_INVALID', `${desc.digest} is larger than ${o.maxBytes} bytes`);
    await this.fetchBlob(lease, repo, desc, o.signal ? { signal: o.signal } : {});
    return this.d.content.readAll(desc.digest, { maxBytes: o.maxBytes, ...(o.signal ? { signal: o.signal } : {}) });
  }

  /** Download a blob into the content store (resuming a partial ingest, sharing concurrent downloads). */
  async fetchBlob(
    lease: LeaseId,
    repo: Repository,
    desc: Descriptor,
    o: { signal?: AbortSignal; onProgress?: (current: number, total: number) => void },
  ): Promise<void> {
    this.hold(lease, 'blob', [desc.digest]);
    await storeBlob(
      this.d.content,
      desc,
      async (offset, { signal }) => this.d.remote.fetchBlob(repo, desc, { offset, signal }),
      { ...(o.signal ? { signal: o.signal } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}) },
    );
    this.d.db.tx((tx) => blobs.put(tx, { digest: desc.digest, size: desc.size, mediaType: desc.mediaType, source: repo }));
  }

  /** Whether layers may be applied before their parent is committed (then only commits go in order). */
  get parallelUnpack(): boolean {
    return this.d.snapshotter.layersIndependent;
  }

  /** Boot the unpack threads these layers will use (at most `parallel`) while their blobs download. */
  warmUnpack(layers: readonly Descriptor[], parallel: number): void {
    prewarmApplyThreads(Math.min(parallel, layers.filter((d) => d.size >= WORKER_MIN_BYTES).length));
  }

  /**
   * Unpack one committed layer blob into the snapshot named by its chain ID, verifying the diff
   * ID. Big layers go to a worker thread reading the blob file; `beforeCommit` lets a parallel
   * pull hold the commit until the parent's.
   */
  async unpackLayer(
    lease: LeaseId,
    l: { desc: Descriptor; diffId: Digest; chainId: Digest; parent: Digest | undefined },
    o: { signal?: AbortSignal; onProgress?: (current: number) => void; beforeCommit?: () => Promise<void> },
  ): Promise<void> {
    if (layerCompression(l.desc.mediaType) === undefined && !/tar/.test(l.desc.mediaType)) {
      throw new LadingError('UNSUPPORTED', `unsupported layer media type ${l.desc.mediaType}`);
    }
    this.hold(lease, 'snapshot', [l.chainId]);
    const opts = {
      diffId: l.diffId,
      asRoot: this.d.asRoot,
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.beforeCommit ? { beforeCommit: o.beforeCommit } : {}),
    };
    let res;
    if (l.desc.size >= WORKER_MIN_BYTES) {
      res = await applyLayerSnapshot(this.d.snapshotter, l.chainId, l.parent, { file: this.d.content.path(l.desc.digest) }, {
        ...opts,
        ...(o.onProgress ? { onProgress: o.onProgress } : {}),
      });
    } else {
      const blob = await this.d.content.open(l.desc.digest, o.signal ? { signal: o.signal } : {});
      const counted = blob.pipe(new CountingStream((n) => o.onProgress?.(n)));
      blob.on('error', (e) => counted.destroy(e));
      const tar = counted.pipe(autoDecompress());
      counted.on('error', (e) => tar.destroy(e));
      res = await applyLayerSnapshot(this.d.snapshotter, l.chainId, l.parent, tar, opts);
    }
    this.d.db.tx((tx) => snapshots.put(tx, { chainId: l.chainId, parentChainId: l.parent, diffId: l.diffId, size: res.size }));
  }

  /** One transaction: image row and edges, tag, digest reference. Returns whether a reference moved or was created. */
  recordPulledImage(lease: LeaseId, r: RecordPulled): boolean {
    void lease;
    const repository = repositoryName(r.ref);
    const created = r.config.created ? Date.parse(r.config.created) : undefined;
    const labels = r.config.config?.Labels ?? {};
    return this.d.db.tx((tx) => {
      blobs.put(tx, { digest: r.configDescriptor.digest, size: r.configDescriptor.size, mediaType: r.configDescriptor.mediaType, source: r.repo });
      if (r.index) {
        indexes.put(tx, { digest: r.index.digest, mediaType: r.index.mediaType, size: r.index.size, children: r.indexChildren ?? [], source: r.repo });
      }
      images.put(tx, {
        id: r.id,
        target: { digest: r.manifest.descriptor.digest, mediaType: r.manifest.descriptor.mediaType, size: r.manifest.descriptor.size },
        created: Number.isNaN(created) ? undefined : created,
        platform: { os: r.config.os, architecture: r.config.architecture, ...(r.config.variant ? { variant: r.config.variant } : {}) },
        labels: labels ?? {},
        layers: r.layers.map((l) => l.blob.digest),
        chainIds: this.skipUnpack ? [] : r.layers.map((l) => l.chainId),
        ...(r.index ? { indexes: [r.index.digest] } : {}),
      });
      images.touch(tx, r.id);
      let updated = false;
      if (r.ref.digest) {
        updated = digestRefs.add(tx, repository, r.ref.digest, r.id).added;
      } else {
        const tag = r.ref.tag ?? 'latest';
        const before = tags.find(tx, repository, tag);
        if (before !== r.id) {
          tags.set(tx, repository, tag, r.id);
          updated = true;
        }
        digestRefs.add(tx, repository, (r.index ?? r.manifest.descriptor).digest, r.id);
      }
      return updated;
    });
  }
}

/** A one-chunk stream; the store hashes and verifies it like any download. */
function bufferStream(bytes: Uint8Array): Readable {
  return Readable.from([Buffer.from(bytes)]);
}
