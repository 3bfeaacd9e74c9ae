import { createHash, type Hash } from 'node:crypto';
import { LadingError } from '../errors/index.js';

/** "sha256:<64 lowercase hex>" (sha384/sha512 also accepted). Parse, don't cast. */
export type Digest = string & { readonly __brand: 'Digest' };

const HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

export function parseDigest(s: string): Digest {
  const i = s.indexOf(':');
  if (i <= 0) throw new LadingError('INVALID_ARGUMENT', `invalid digest format: ${JSON.stringify(s)}`);
  const algo = s.slice(0, i);
  const hex = s.slice(i + 1);
  const len = HEX_LENGTH[algo];
  if (len === undefined) {
    if (/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$/.test(algo)) throw new LadingError('INVALID_ARGUMENT', 'unsupported digest algorithm');
    throw new LadingError('INVALID_ARGUMENT', `invalid digest format: ${JSON.stringify(s)}`);
  }
  if (hex.length !== len) throw new LadingError('INVALID_ARGUMENT', 'invalid checksum digest length');
  if (!/^[0-9a-f]+$/.test(hex)) throw new LadingError('INVALID_ARGUMENT', 'invalid checksum digest format');
  return s as Digest;
}

export function isDigest(s: string): s is Digest {
  try {
    parseDigest(s);
    return true;
  } catch {
    return false;
  }
}

export function digestAlgorithm(d: Digest): string {
  return d.slice(0, d.indexOf(':'));
}

export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(':') + 1);
}

export function sha256(data: Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
}

export function newHasher(d: Digest | string = 'sha256'): Hash {
  const algo = d.includes(':') ? d.slice(0, d.indexOf(':')) : d;
  return createHash(algo);
}

export function hashDigest(algo: string, h: Hash): Digest {
  return `${algo}:${h.digest('hex')}` as Digest;
}

/** 12 hex characters, as Docker shows IDs and layer ids. */
export function shortId(d: string): string {
  const i = d.indexOf(':');
  return d.slice(i + 1, i + 13);
}
