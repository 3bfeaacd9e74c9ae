import { compress } from 'zstd-napi';

/** zstd frame of a buffer, for fixtures. */
export function compressZstd(data: Buffer): Buffer {
  return compress(data);
}
