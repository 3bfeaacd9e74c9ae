export type Compression = 'gzip' | 'zstd' | 'none';

/** Bytes needed to recognise every supported format. */
export const MAGIC_LENGTH = 4;

/**
 * Compression of a blob from its first bytes (RFC 1952 gzip magic 1f 8b; zstd frame magic
 * 28 b5 2f fd, little-endian 0xFD2FB528). Anything else is taken as uncompressed: a tar
 * starts with a file name, never with these bytes in practice.
 */
export function detectCompression(firstBytes: Uint8Array): Compression {
  if (firstBytes.length >= 2 && firstBytes[0] === 0x1f && firstBytes[1] === 0x8b) return 'gzip';
  if (
    firstBytes.length >= 4 &&
    firstBytes[0] === 0x28 &&
    firstBytes[1] === 0xb5 &&
    firstBytes[2] === 0x2f &&
    firstBytes[3] === 0xfd
  ) {
    return 'zstd';
  }
  return 'none';
}
