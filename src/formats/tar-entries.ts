import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import type { Header } from 'tar-stream';
import { tarStream } from '../util/index.js';
import { LadingError, canceled } from '../errors/index.js';
import { autoDecompress } from '../compression/index.js';

export interface TarEntry {
  /** Normalised path: no leading `./` or `/`. */
  name: string;
  header: Header;
  /** The entry's bytes; read it or `resume()` it before the next entry arrives. */
  stream: Readable;
}

/** `./blobs/sha256/x` and `/blobs/sha256/x` -> `blobs/sha256/x`. */
export function normaliseEntryName(name: string): string {
  return name.replace(/^(?:\.?\/)+/, '').replace(/\/+$/, '');
}

/**
 * Iterate the entries of a tar stream, plain, gzip or zstd (sniffed). A truncated or corrupt
 * archive fails the iteration (tar-stream's "Unexpected end of data", zlib's errors) rather than
 * ending it cleanly, so callers never act on part of an archive.
 */
export async function* tarEntries(input: Readable, o: { signal?: AbortSignal } = {}): AsyncGenerator<TarEntry> {
  const ex = tarStream().extract();
  const feeding = pipeline(input, autoDecompress(), ex as unknown as Writable, o.signal ? { signal: o.signal } : {});
  let failure: unknown;
  feeding.catch((e: unknown) => {
    failure = e;
    ex.destroy(e as Error);
  });
  let count = 0;
  try {
    for await (const entry of ex) {
      count++;
      // tar-stream's entries are streamx streams: hand out a Node Readable over them.
      yield { name: normaliseEntryName(entry.header.name), header: entry.header, stream: Readable.from(entry as AsyncIterable<Buffer>, { objectMode: false }) };
      entry.resume();
    }
    await feeding;
  } catch (e) {
    if (o.signal?.aborted) throw canceled(o.signal);
    const err = failure ?? e;
    if (err instanceof LadingError) throw err;
    throw new LadingError('INVALID_ARGUMENT', `Error processing tar file: ${(err as Error).message || 'unexpected EOF'}`, { cause: err });
  } finally {
    ex.destroy();
  }
  if (count === 0) throw new LadingError('INVALID_ARGUMENT', 'Error processing tar file: unexpected EOF (empty archive)');
}

/** Read a stream whole, refusing more than `max` bytes. */
export async function readCapped(s: Readable, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of s) {
    n += (c as Buffer).length;
    if (n > max) throw new LadingError('INVALID_ARGUMENT', `${what} is larger than ${max} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks, n);
}
