import type { Readable } from 'node:stream';
import { LadingError } from '../errors/index.js';

/** Read a whole stream, failing once it passes `maxBytes` (never "read all" from untrusted input). */
export async function readLimited(stream: Readable | AsyncIterable<Uint8Array>, maxBytes: number, what = 'body'): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    total += b.length;
    if (total > maxBytes) {
      (stream as Readable).destroy?.();
      throw new LadingError('INVALID_ARGUMENT', `${what} exceeds the ${maxBytes}-byte limit`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks, total);
}
