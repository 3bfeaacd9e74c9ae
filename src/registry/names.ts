import { isDigest, type Digest } from '../oci/index.js';
import { ociError } from './errors.js';

// distribution-spec: <name> is path components of [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* joined by "/".
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** Distribution caps a name at 255 characters (with the host); the spec asks clients to keep it so. */
export const MAX_NAME_LENGTH = 255;

export const isRepositoryName = (s: string): boolean => s.length <= MAX_NAME_LENGTH && NAME.test(s);
export const isTag = (s: string): boolean => TAG.test(s);

export function checkName(name: string): string {
  if (!isRepositoryName(name)) throw ociError('NAME_INVALID', 'invalid repository name', { detail: { name } });
  return name;
}

export function checkDigest(s: string, code: 'DIGEST_INVALID' | 'BLOB_UNKNOWN' | 'MANIFEST_UNKNOWN' = 'DIGEST_INVALID'): Digest {
  if (!isDigest(s)) throw ociError(code, code === 'DIGEST_INVALID' ? 'invalid digest' : undefined, { detail: { digest: s } });
  return s;
}

/** A manifest reference: a digest, or a tag. */
export function parseManifestReference(s: string): { digest: Digest } | { tag: string } {
  if (s.includes(':')) {
    if (!isDigest(s)) throw ociError('DIGEST_INVALID', 'invalid digest', { detail: { reference: s } });
    return { digest: s };
  }
  if (!isTag(s)) throw ociError('TAG_INVALID', 'invalid tag', { detail: { tag: s } });
  return { tag: s };
}
