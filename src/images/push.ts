import { LadingError, canceled } from '../errors/index.js';
import { shortId, type Descriptor, type Digest } from '../oci/index.js';
import { familiarName, repositoryName, type Reference } from '../reference/index.js';
import type { RegistryPusher, Repository } from '../remote/index.js';
import type { Semaphore } from '../util/index.js';
import type { LocalImages } from './local-images.js';
import type { OnProgress } from './progress.js';

export interface PushOptions {
  /** Push every local tag of the repository (the reference must have no tag). */
  allTags?: boolean;
  signal?: AbortSignal;
  onProgress?: OnProgress;
}

export interface PushedTag {
  tag: string;
  digest: Digest;
  size: number;
}

export interface PushDeps {
  local: LocalImages;
  pusher: RegistryPusher;
  /** Per-registry upload limit (dockerd's max-concurrent-uploads). */
  uploadLimit(registry: string): Semaphore;
}

/** Docker's wording when nothing local carries the name (daemon distribution/push.go). */
function noLocalTag(ref: Reference): LadingError {
  return new LadingError('NOT_FOUND', `An image does not exist locally with the tag: ${familiarName(ref)}`, { detail: { bare: true } });
}

/**
 * Push NAME[:TAG] (or every tag with allTags): per layer skip it when the repository has it, mount
 * it from another repository of the same registry that is known to hold it, else upload it exactly
 * as stored (so digests match what was pulled); then the config, then the manifest under the tag.
 * Each digest is pushed once per run even when tags share layers.
 */
export async function pushImage(d: PushDeps, ref: Reference, o: PushOptions = {}): Promise<PushedTag[]> {
  const emit: OnProgress = o.onProgress ?? (() => {});
  const { signal } = o;
  if (ref.digest) throw new LadingError('INVALID_ARGUMENT', 'cannot push a digest reference', { detail: { bare: true } });
  if (o.allTags && ref.tag) throw new LadingError('INVALID_ARGUMENT', 'tag can\'t be used with --all-tags/-a', { detail: { bare: true } });
  const repository = repositoryName(ref);
  const repo: Repository = { registry: ref.domain, repository: ref.path };
  emit({ kind: 'message', text: `The push refers to repository [${repository}]` });

  const work: Array<{ tag: string; id: Digest }> = o.allTags
    ? d.local.tagsOf(repository).map((t) => ({ tag: t.tag, id: t.imageId }))
    : (() => {
        const tag = ref.tag ?? 'latest';
        const rec = d.local.findTag(repository, tag);
        return rec ? [{ tag, id: rec.id }] : [];
      })();
  if (work.length === 0) throw noLocalTag(ref);

  const done = new Map<Digest, Promise<void>>();
  const limit = d.uploadLimit(repo.registry);
  const out: PushedTag[] = [];
  for (const w of work) {
    if (signal?.aborted) throw canceled(signal);
    const record = d.local.find(w.id);
    if (!record) throw noLocalTag(ref);
    const img = await d.local.read(record, signal);
    const layers = img.manifest.manifest.layers;
    const diffIds = img.config.config.rootfs.diff_ids;
    // Docker names push lines by diff ID and lists the top layer first.
    const ids = layers.map((l, i) => shortId(diffIds[i] ?? l.digest));
    const order = layers.map((_, i) => layers.length - 1 - i);
    for (const i of order) emit({ kind: 'layer', id: ids[i]!, action: 'preparing' });
    let queued = 0;
    const jobs = order.map((i) => {
      const l = layers[i]!;
      const id = ids[i]!;
      if (!done.has(l.digest) && queued++ >= limit.limit) emit({ kind: 'layer', id, action: 'waiting' });
      return pushOnce(done, l.digest, () => limit.run(() => pushLayer(d, repo, l, id, emit, signal), signal)).catch((e: unknown) => {
        throw signal?.aborted ? canceled(signal) : e;
      });
    });
    const settled = await Promise.allSettled(jobs);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    // The config last among blobs: a registry validates a manifest against blobs it holds.
    await pushOnce(done, img.config.descriptor.digest, async () => {
      if (await d.pusher.exists(repo, img.config.descriptor, signalOpt(signal))) return;
      await d.pusher.pushBlob(repo, img.config.descriptor, (off) => d.local.openBlob(img.config.descriptor.digest, off, signal), signalOpt(signal));
    });
    await d.pusher.pushManifest(repo, w.tag, img.manifest.bytes, img.manifest.descriptor.mediaType, signalOpt(signal));
    const digest = img.manifest.descriptor.digest;
    d.local.recordPushed(record.id, repository, digest, repo, [img.manifest.descriptor, img.config.descriptor, ...layers]);
    emit({ kind: 'message', text: `${w.tag}: digest: ${digest} size: ${img.manifest.bytes.length}` });
    out.push({ tag: w.tag, digest, size: img.manifest.bytes.length });
  }
  return out;
}

const signalOpt = (s: AbortSignal | undefined) => (s ? { signal: s } : {});

/** One push per digest per run; a failure is forgotten so a later tag can retry it (ggcr workers.Do). */
function pushOnce(done: Map<Digest, Promise<void>>, digest: Digest, fn: () => Promise<void>): Promise<void> {
  let p = done.get(digest);
  if (!p) {
    p = fn();
    done.set(digest, p);
    p.catch(() => done.delete(digest));
  }
  return p;
}

async function pushLayer(d: PushDeps, repo: Repository, l: Descriptor, id: string, emit: OnProgress, signal: AbortSignal | undefined): Promise<void> {
  if (await d.pusher.exists(repo, l, signalOpt(signal))) {
    emit({ kind: 'layer', id, action: 'layer-exists' });
    return;
  }
  if (!(await d.local.hasBlob(l.digest))) {
    throw new LadingError('NOT_FOUND', `layer ${l.digest} does not exist locally`, { detail: { bare: true } });
  }
  let location: string | undefined;
  for (const from of d.local.mountSources(l.digest, repo.registry).filter((r) => r !== repo.repository).slice(0, 3)) {
    const m = await d.pusher.mount(repo, l, from, signalOpt(signal));
    if (m.mounted) {
      emit({ kind: 'message', id, text: `Mounted from ${from}` });
      return;
    }
    // Not mountable: the registry opened an upload instead; use it rather than leaking it.
    location = m.location;
    break;
  }
  await d.pusher.pushBlob(repo, l, (off) => d.local.openBlob(l.digest, off, signal), {
    ...signalOpt(signal),
    ...(location ? { location } : {}),
    onProgress: (current, total) => emit({ kind: 'layer', id, action: 'pushing', current, total }),
  });
  emit({ kind: 'layer', id, action: 'pushed' });
}
