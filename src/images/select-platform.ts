import { LadingError } from '../errors/index.js';
import { formatPlatform, platformMatches, platformScore, type Descriptor, type ImageIndex, type Platform } from '../oci/index.js';

/**
 * Pick the index entry for a platform: matching entries, exact variant first. Attestation
 * manifests (BuildKit's `unknown/unknown`) never match a real platform.
 */
export function selectPlatform(index: ImageIndex, want: Platform): Descriptor {
  let best: Descriptor | undefined;
  let bestScore = -1;
  for (const d of index.manifests) {
    if (!platformMatches(want, d.platform)) continue;
    const s = platformScore(want, d.platform!);
    if (s > bestScore) {
      best = d;
      bestScore = s;
    }
  }
  if (!best) {
    // Docker prints this one bare: it arrives inside the pull's progress stream (behaviour §2.5).
    throw new LadingError('NOT_FOUND', `no matching manifest for ${formatPlatform(want)} in the manifest list entries`, { detail: { bare: true } });
  }
  return best;
}
