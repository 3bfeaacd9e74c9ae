import { Readable } from 'node:stream';
import { LadingError } from '../errors/index.js';

/**
 * Cuts one source stream into consecutive fixed-length bodies, one per PATCH request, without
 * buffering a whole chunk: each body pulls from the shared source as the request sends it.
 */
export class ChunkReader {
  private readonly it: AsyncIterator<Buffer>;
  private rest: Buffer | undefined;

  constructor(private readonly source: Readable, private readonly onBytes: (n: number) => void) {
    this.it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** A stream of exactly `n` bytes; it fails if the source ends first. */
  next(n: number): Readable {
    let left = n;
    const self = this;
    return Readable.from(
      (async function* () {
        while (left > 0) {
          let b = self.rest;
          self.rest = undefined;
          if (!b) {
            const r = await self.it.next();
            if (r.done) throw new LadingError('UNAVAILABLE', `blob source ended ${left} bytes before the end of the chunk`);
            b = r.value;
          }
          if (b.length > left) {
            self.rest = b.subarray(left);
            b = b.subarray(0, left);
          }
          left -= b.length;
          self.onBytes(b.length);
          yield b;
        }
      })(),
      { objectMode: false },
    );
  }

  destroy(): void {
    this.source.destroy();
  }
}
