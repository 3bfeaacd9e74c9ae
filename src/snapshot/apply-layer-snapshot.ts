import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { ApplyLayerResult } from '../archive/index.js';
import { isCode, LadingError } from '../errors/index.js';
import type { Digest } from '../oci/index.js';
import type { Snapshotter } from './types.js';

export interface ApplyLayerSnapshotOptions {
  /** The diffID the image config promises for this layer. */
  diffId: Digest;
  asRoot?: boolean;
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
}

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
  tar: Readable,
  o: ApplyLayerSnapshotOptions,
): Promise<ApplyLayerResult> {
  // The pid lets a later cleanup() remove what a killed extraction left behind.
  const key = `extract-${process.pid}-${randomBytes(8).toString('hex')}-${chainId}`;
  try {
    await sn.prepare(key, parentChainId, { extract: true, signal: o.signal });
  } catch (e) {
    tar.destroy();
    throw e;
  }
  try {
    // Loaded on use, so listing and removing images never load tar-stream and zstd.
    const { applyLayer } = await import('../archive/index.js');
    const r = await applyLayer(sn.applyDir(key), tar, {
      asRoot: o.asRoot ?? process.getuid?.() === 0,
      whiteouts: sn.whiteouts,
      signal: o.signal,
      onProgress: o.onProgress,
    });
    if (r.diffId !== o.diffId) {
      throw new LadingError('DIGEST_MISMATCH', `layer ${chainId}: diffID mismatch: expected ${o.diffId}, got ${r.diffId}`, {
        detail: { expected: o.diffId, found: r.diffId },
      });
    }
    try {
      await sn.commit(chainId, key, { size: r.size });
    } catch (e) {
      if (!isCode(e, 'ALREADY_EXISTS')) throw e;
      await sn.remove(key);
    }
    return r;
  } catch (e) {
    tar.destroy();
    await sn.remove(key).catch(() => {});
    throw e;
  }
}
