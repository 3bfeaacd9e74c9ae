import { LadingError } from '../errors/index.js';

// Hex lengths of the algorithms go-digest has linked in dockerd and the CLI.
const HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };
// go-digest's DigestRegexpAnchored: decides "unsupported" vs "invalid format" for unknown algorithms.
const DIGEST_SYNTAX_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/**
 * go-digest's Digest.Validate with its exact messages. Lives here, not in oci/, because oci imports
 * reference and not the reverse.
 */
export function validateReferenceDigest(s: string): void {
  const i = s.indexOf(':');
  if (i <= 0 || i + 1 === s.length) throw invalid('invalid checksum digest format');
  const algo = s.slice(0, i);
  const hex = s.slice(i + 1);
  const len = Object.hasOwn(HEX_LENGTH, algo) ? HEX_LENGTH[algo] : undefined;
  if (len === undefined) {
    throw invalid(DIGEST_SYNTAX_RE.test(s) ? 'unsupported digest algorithm' : 'invalid checksum digest format');
  }
  if (hex.length !== len) throw invalid('invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(hex)) throw invalid('invalid checksum digest format');
}

function invalid(message: string): LadingError {
  return new LadingError('INVALID_ARGUMENT', message);
}
