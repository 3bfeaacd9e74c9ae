import { Duplex, type Transform } from 'node:stream';
import { LadingError } from '../errors/index.js';
import { detectCompression, MAGIC_LENGTH, type Compression } from './detect.js';
import { decompressStream } from './streams.js';

/**
 * Sniffs the first bytes, then decompresses with the matching format (gzip, zstd or none).
 * Errors of the inner decompressor surface as LadingError('INVALID_ARGUMENT'), so a corrupt
 * layer reads the same whatever its compression. Backpressure runs both ways: writes wait for
 * the inner stream's 'drain', and the inner stream pauses while our reader is full.
 */
export class AutoDecompress extends Duplex {
  private inner: Transform | undefined;
  private head: Buffer[] = [];
  private headLength = 0;
  private finalCallback: ((err?: Error | null) => void) | undefined;
  /** The detected format, once the first bytes arrived. */
  compression: Compression | undefined;

  constructor() {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.inner === undefined) {
      this.head.push(chunk);
      this.headLength += chunk.length;
      if (this.headLength < MAGIC_LENGTH) {
        cb();
        return;
      }
      chunk = this.start();
    }
    this.forward(chunk, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.inner === undefined) {
      const rest = this.start();
      if (rest.length > 0) this.inner!.write(rest);
    }
    // Finish only once the inner stream has flushed everything it will produce.
    this.finalCallback = cb;
    this.inner!.end();
  }

  override _read(): void {
    this.inner?.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.inner?.destroy();
    cb(err);
  }

  private forward(chunk: Buffer, cb: (err?: Error | null) => void): void {
    if (this.inner!.write(chunk)) cb();
    else this.inner!.once('drain', () => cb());
  }

  private start(): Buffer {
    const first = Buffer.concat(this.head, this.headLength);
    this.head = [];
    const kind = detectCompression(first);
    this.compression = kind;
    const inner = decompressStream(kind);
    this.inner = inner;
    inner.on('data', (d: Buffer) => {
      if (!this.push(d)) inner.pause();
    });
    inner.on('end', () => {
      this.push(null);
      const cb = this.finalCallback;
      this.finalCallback = undefined;
      cb?.();
    });
    inner.on('error', (e: Error) => {
      this.destroy(
        e instanceof LadingError
          ? e
          : new LadingError('INVALID_ARGUMENT', `invalid ${kind} data: ${e.message}`, { cause: e }),
      );
    });
    return first;
  }
}

/** A stream that detects gzip/zstd/none from the first bytes and decompresses accordingly. */
export function autoDecompress(): AutoDecompress {
  return new AutoDecompress();
}
