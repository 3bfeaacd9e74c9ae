import type { Digest } from '../oci/index.js';
import type { Tx } from './db.js';
import { images, type ImageRecord } from './images.js';
import { digestRefs, tags } from './tags.js';

/** What the caller's reference parser yields: full repository name plus tag and/or digest. */
export interface ParsedName {
  repository: string;
  tag?: string | undefined;
  digest?: string | undefined;
}

export type ResolvedImage =
  | { by: 'id'; image: ImageRecord }
  | { by: 'prefix'; image: ImageRecord }
  | { by: 'reference'; image: ImageRecord; repository: string; tag?: string; digest?: Digest };

const FULL_ID = /^(?:sha256:)?([0-9a-f]{64})$/;

/**
 * Resolve a user string to a local image in the daemon's order (behaviour §1.6):
 * 1. 64 hex or "sha256:"+64 hex: that exact image ID, nothing else (missing -> undefined);
 * 2. a reference (parsed by `parseRef`, normalised, default tag "latest") found among tags or
 *    digest references, which wins over an ID prefix spelled the same;
 * 3. a unique ID prefix, with or without "sha256:"; an ambiguous prefix is not found.
 * `parseRef` returns undefined to skip step 2; if it throws, its error propagates (Docker answers
 * an unparsable string with the parser's message). `by` tells rmi whether a name or an ID was given.
 */
export function resolveImage(
  tx: Tx,
  s: string,
  parseRef: (s: string) => ParsedName | undefined,
): ResolvedImage | undefined {
  const full = FULL_ID.exec(s);
  if (full !== null) {
    const image = images.find(tx, `sha256:${full[1]!}`);
    return image && { by: 'id', image };
  }

  const ref = parseRef(s);
  if (ref !== undefined) {
    // A reference with both tag and digest is looked up by digest (the tag is informational).
    if (ref.digest !== undefined) {
      const id = digestRefs.find(tx, ref.repository, ref.digest);
      const image = id && images.find(tx, id);
      if (image) return { by: 'reference', image, repository: ref.repository, digest: ref.digest as Digest };
    } else {
      const tag = ref.tag ?? 'latest';
      const id = tags.find(tx, ref.repository, tag);
      const image = id && images.find(tx, id);
      if (image) return { by: 'reference', image, repository: ref.repository, tag };
    }
  }

  const image = images.findByIdPrefix(tx, s);
  return image && { by: 'prefix', image };
}
