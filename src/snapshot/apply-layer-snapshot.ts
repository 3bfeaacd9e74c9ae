import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { applyLayer, applyLayerFile, type ApplyLayerResult } from '../archive/index.js';
import { isCode, LadingError } from '../errors/index.js';
import type { Digest } from '../oci/index.js';
import type { Snapshotter } from './types.js';

export interface ApplyLayerSnapshotOptions {
  /** The diffID the image config promises for this layer. */
  diffId: Digest;
  asRoot?: boolean;
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
  /**
   * Awaited after the layer is applied and verified, before the commit: a parallel pull waits
   * here for the parent layer's commit (see Snapshotter.layersIndependent).
   */
  beforeCommit?: () => Promise<void>;
}

/** The layer as a stream of uncompressed tar, or as a local (compressed) file unpacked in a worker thread. */
export type LayerSource = Readable | { file: string };

/**
 * Unpack one layer as the committed snapshot `chainId` on top of `parentChainId`: prepare an
 * active snapshot, apply the uncompressed tar into it, check the diffID, commit. On any failure
 * the active snapshot is removed, so nothing half-extracted is ever visible under a chain ID.
 * A snapshot committed meanwhile by someone else counts as success.
 */
export async function applyLayerSnapshot(
  sn: Snapshotter,
  chainId: Digest,
  parentChainId: Digest | undefined,
  source: LayerSource,
  o: ApplyLayerSnapshotOptions,
): Promise<ApplyLayerResult> {
  // The pid lets a later cleanup() remove what a killed extraction left behind.
  const tar = 'file' in source ? undefined : source;
  const key = `extract-${process.pid}-${randomBytes(8).toString('hex')}-${chainId}`;
  try {
    await sn.prepare(key, parentChainId, { extract: true, signal: o.signal });
  } catch (e) {
    tar?.destroy();
    throw e;
  }
  try {
    const ao = { asRoot: o.asRoot ?? process.getuid?.() === 0, whiteouts: sn.whiteouts, signal: o.signal, onProgress: o.onProgress };
    const r = tar ? await applyLayer(sn.applyDir(key), tar, ao) : await applyLayerFile(sn.applyDir(key), (source as { file: string }).file, ao);
    if (r.diffId !== o.diffId) {
      throw new LadingError('DIGEST_MISMATCH', `layer ${chainId}: diffID mismatch: expected ${o.diffId}, got ${r.diffId}`, {
        detail: { expected: o.diffId, found: r.diffId },
      });
    }
    await o.beforeCommit?.();
    try {
      await sn.commit(chainId, key, { size: r.size });
    } catch (e) {
      if (!isCode(e, 'ALREADY_EXISTS')) throw e;
      await sn.remove(key);
    }
    return r;
  } catch (e) {
    tar?.destroy();
    await sn.remove(key).catch(() => {});
    throw e;
  }
}
