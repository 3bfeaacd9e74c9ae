import { availableParallelism } from 'node:os';
import { isCode, LadingError } from '../errors/index.js';
import { Semaphore } from '../util/index.js';
import {
  chainIds,
  hostPlatform,
  parseImageConfig,
  parseManifest,
  shortId,
  MAX_MANIFEST_BYTES,
  type Descriptor,
  type Digest,
  type ImageConfig,
  type ImageManifest,
  type Platform,
} from '../oci/index.js';
import { familiarString, fullString, type Reference } from '../reference/index.js';
import type { ImageStore } from './image-store.js';
import type { LeaseId } from '../metadata/index.js';
import { throttledProgress, type OnProgress } from './progress.js';
import { selectPlatform } from './select-platform.js';

export interface PullOptions {
  platform?: Platform;
  signal?: AbortSignal;
  onProgress?: OnProgress;
}

export interface PullResult {
  /** Image ID (config digest). */
  id: Digest;
  /** What the reference resolved to in the registry: the index digest for multi-platform images. */
  digest: Digest;
  /** True when the tag or digest reference was created or moved ("Downloaded newer image"). */
  updated: boolean;
  /** The full reference as requested, Docker's last line. */
  reference: string;
}

interface LayerPlan {
  desc: Descriptor;
  diffId: Digest;
  chainId: Digest;
  parent: Digest | undefined;
  id: string;
  /** Blob stored and snapshot committed: nothing to do ("Already exists"). */
  present: boolean;
  /** Snapshot committed already (the blob may still be missing, e.g. other compression). */
  unpacked: boolean;
}

/**
 * Pull one image: resolve, pick the platform, fetch config and layers into the content store
 * (at most N downloads at once per registry), unpack layers strictly in order into snapshots
 * keyed by chain ID, then record image, tag and digest in one transaction.
 */
export async function pullImage(store: ImageStore, ref: Reference, o: PullOptions = {}): Promise<PullResult> {
  const { signal } = o;
  const emit: OnProgress = o.onProgress ?? (() => {});
  if (ref.path === 'library/scratch' && ref.domain === 'docker.io') {
    throw new LadingError('INVALID_ARGUMENT', "'scratch' is a reserved name");
  }
  const repo = { registry: ref.domain, repository: ref.path };
  const requested = ref.digest ?? ref.tag ?? 'latest';
  const display = fullString(ref);
  // The first message's id is the tag, or the whole reference for a digest pull (Docker §2.2).
  emit({ kind: 'message', id: ref.digest ? display : requested, text: `Pulling from ${ref.path}` });

  const lease = store.acquireLease();
  try {
    // The sweep of what dead processes left runs while the registry answers; nothing is
    // written before both are done.
    const [top] = await settleAll([store.remote.resolve(repo, requested, { signal, displayRef: familiarString(ref) }), store.repair()] as const);
    let manifestDesc = top.descriptor;
    let manifestBytes = top.bytes;
    let index: { descriptor: Descriptor; bytes: Uint8Array } | undefined;
    const parsed = parseManifest(top.bytes, top.descriptor.mediaType);
    const platform = o.platform ?? hostPlatform();
    if (parsed.kind === 'index') {
      index = top;
      const child = selectPlatform(parsed.index, platform);
      const m = await store.remote.fetchManifest(repo, child.digest, { signal, displayRef: familiarString(ref) });
      manifestDesc = { ...m.descriptor, platform: child.platform! };
      manifestBytes = m.bytes;
    }
    const mparsed = parseManifest(manifestBytes, manifestDesc.mediaType);
    if (mparsed.kind !== 'manifest') throw new LadingError('MANIFEST_INVALID', 'manifest invalid: an index entry points at another index');
    const manifest: ImageManifest = mparsed.manifest;

    // Layer blobs need only the manifest: their downloads start now, beside the config and the
    // manifest's own write (moby's pullSchema2 fetches config and layers concurrently too). Their
    // events wait until the plan's have gone out, so the output keeps Docker's order.
    const gate = new EventGate(emit);
    const downloads = new LayerDownloads(store, lease, repo, { signal, emit: gate.emit });
    const blobHeld = store.holdBlobs(lease, manifest.layers.map((d) => d.digest));
    manifest.layers.forEach((d, i) => {
      if (!blobHeld[i]) downloads.start(d);
    });
    let plan: LayerPlan[];
    let config: ImageConfig;
    try {
      const [configBytes] = await settleAll([
        store.fetchSmallBlob(lease, repo, manifest.config, { signal: downloads.signal, maxBytes: MAX_MANIFEST_BYTES }),
        // Manifests are content too: keep them so push and save reproduce the exact bytes.
        store.putSmallBlob(lease, manifestDesc, manifestBytes, repo),
        index ? store.putSmallBlob(lease, index.descriptor, index.bytes, repo) : undefined,
      ] as const);
      config = parseImageConfig(configBytes);
      const diffIds = config.rootfs.diff_ids;
      if (diffIds.length !== manifest.layers.length) {
        throw new LadingError('MANIFEST_INVALID', `manifest invalid: ${manifest.layers.length} layers but ${diffIds.length} diff IDs in the config`);
      }
      const chains = chainIds(diffIds);
      const snapshotHeld = store.holdSnapshots(lease, chains);
      plan = manifest.layers.map((desc, i) => {
        const unpacked = snapshotHeld[i]! || store.skipUnpack;
        return {
          desc,
          diffId: diffIds[i]!,
          chainId: chains[i]!,
          parent: i > 0 ? chains[i - 1] : undefined,
          id: shortId(desc.digest),
          present: blobHeld[i]! && unpacked,
          unpacked,
        };
      });
    } catch (e) {
      // A failed download cancels the config fetch: report the failure, not the cancellation.
      const results = await downloads.cancel();
      throw firstCause([{ status: 'rejected', reason: e }, ...results], e);
    }
    const id = manifest.config.digest;
    if (!plan.every((l) => l.present)) {
      await fetchAndUnpack(store, lease, plan, { emit, downloads, gate });
    } else if (!store.hasImage(id)) {
      for (const l of plan) emit({ kind: 'layer', id: l.id, action: 'exists' });
    }

    const updated = store.recordPulledImage(lease, {
      id,
      ref,
      manifest: { descriptor: manifestDesc, manifest },
      index: index?.descriptor,
      ...(parsed.kind === 'index' ? { indexChildren: parsed.index.manifests } : {}),
      config,
      configDescriptor: manifest.config,
      layers: plan.map((l) => ({ blob: l.desc, chainId: l.chainId, diffId: l.diffId })),
      repo,
    });
    emit({ kind: 'message', text: `Digest: ${top.descriptor.digest}` });
    emit({
      kind: 'message',
      text: updated ? `Status: Downloaded newer image for ${familiarString(ref)}` : `Status: Image is up to date for ${familiarString(ref)}`,
    });
    return { id, digest: top.descriptor.digest, updated, reference: display };
  } finally {
    store.releaseLease(lease);
  }
}

async function fetchAndUnpack(
  store: ImageStore,
  lease: LeaseId,
  plan: LayerPlan[],
  o: { emit: OnProgress; downloads: LayerDownloads; gate: EventGate },
): Promise<void> {
  const { emit, downloads } = o;
  const missing = plan.filter((l) => !l.present);
  for (const l of plan) if (l.present) emit({ kind: 'layer', id: l.id, action: 'exists' });
  const limit = downloads.limit;
  missing.forEach((l, i) => {
    emit({ kind: 'layer', id: l.id, action: 'pulling' });
    if (i >= limit) emit({ kind: 'layer', id: l.id, action: 'waiting' });
  });
  o.gate.open();
  // Layers whose blob is stored but not unpacked pass through too (their fetch is a no-op).
  for (const l of missing) downloads.start(l.desc);
  const sig = downloads.signal;
  // Unpacking: on a snapshotter with independent layers (overlay) each layer starts as soon as
  // its blob is in, up to two at once, and only the commits wait for the parent's; otherwise
  // strictly in order. A layer gives its slot back before it waits for its parent's commit,
  // which takes no CPU: the slot goes to the next layer whose blob is in, whatever its place,
  // so a small layer that downloads first (a node_modules tree) starts first, and no slot can
  // be held by a layer waiting on one that has none.
  // Two at most: each unpacking thread holds some 30-40 MB of buffers between collections.
  const slots = new Semaphore(store.parallelUnpack ? Math.min(2, availableParallelism()) : 1);
  store.warmUnpack(missing.filter((l) => !l.unpacked).map((l) => l.desc), slots.limit);
  const done = new Map<number, Promise<void>>();
  const steps = plan.map((l, i) => {
    if (l.present) {
      done.set(i, Promise.resolve());
      return Promise.resolve();
    }
    const parentDone = i > 0 ? done.get(i - 1)! : Promise.resolve();
    const step = (async () => {
      try {
        await downloads.get(l.desc.digest);
        if (!store.parallelUnpack) await parentDone;
        if (!l.unpacked && !store.hasSnapshot(l.chainId)) {
          const release = await slots.acquire(sig);
          try {
            await store.unpackLayer(lease, l, {
              signal: sig,
              onProgress: (current) => emit({ kind: 'layer', id: l.id, action: 'extracting', current, total: l.desc.size }),
              beforeCommit: () => {
                release();
                return parentDone;
              },
            });
          } finally {
            release();
          }
        }
        await parentDone;
        emit({ kind: 'layer', id: l.id, action: 'complete' });
      } catch (e) {
        downloads.abort();
        throw e;
      }
    })();
    done.set(i, step);
    return step;
  });
  // Every step settles before the pull reports, so no worker or download outlives it.
  const results = await Promise.allSettled([...steps, ...downloads.all()]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw firstCause(results, failed.reason);
}

/**
 * The pull's blob downloads, one per digest, at most N at once per registry. The first failure
 * cancels the others (and any unpacking that shares the signal).
 */
class LayerDownloads {
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly started = new Map<Digest, Promise<void>>();
  private readonly limiter: Semaphore;

  constructor(
    private readonly store: ImageStore,
    private readonly lease: LeaseId,
    private readonly repo: { registry: string; repository: string },
    private readonly o: { signal?: AbortSignal | undefined; emit: OnProgress },
  ) {
    this.signal = o.signal ? AbortSignal.any([o.signal, this.controller.signal]) : this.controller.signal;
    this.limiter = store.downloadLimit(repo.registry);
  }

  get limit(): number {
    return this.limiter.limit;
  }

  start(desc: Descriptor): void {
    if (this.started.has(desc.digest)) return;
    const id = shortId(desc.digest);
    const { emit } = this.o;
    const p = this.limiter.run(async () => {
      await this.store.fetchBlob(this.lease, this.repo, desc, {
        signal: this.signal,
        onProgress: throttledProgress((current, total) => emit({ kind: 'layer', id, action: 'downloading', current, total })),
      });
      emit({ kind: 'layer', id, action: 'verifying' });
      emit({ kind: 'layer', id, action: 'downloaded' });
    }, this.signal);
    p.catch(() => this.controller.abort());
    this.started.set(desc.digest, p);
  }

  get(d: Digest): Promise<void> | undefined {
    return this.started.get(d);
  }

  all(): Promise<void>[] {
    return [...this.started.values()];
  }

  abort(): void {
    this.controller.abort();
  }

  /** Stop every download and wait until none is running. */
  cancel(): Promise<PromiseSettledResult<void>[]> {
    this.controller.abort();
    return Promise.allSettled(this.all());
  }
}

/** Holds layer events until open(), then passes them on in order. */
class EventGate {
  private held: Parameters<OnProgress>[0][] | undefined = [];
  constructor(private readonly out: OnProgress) {}
  readonly emit: OnProgress = (e) => {
    if (this.held) this.held.push(e);
    else this.out(e);
  };
  open(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const e of held) this.out(e);
  }
}

/** Like Promise.all, but waits for every promise to settle before rejecting with the first failure. */
async function settleAll<T extends readonly unknown[]>(ps: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results = await Promise.allSettled(ps);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}

/** The error that started a failure, not the cancellations it caused in the other steps. */
function firstCause(results: PromiseSettledResult<unknown>[], fallback: unknown): unknown {
  const errs = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason);
  return errs.find((e) => !isCode(e, 'CANCELED') && !(e instanceof Error && e.name === 'AbortError')) ?? fallback;
}
