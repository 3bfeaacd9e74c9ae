import { Readable } from 'node:stream';
import { LadingError, canceled } from '../errors/index.js';
import { backoffDelay, type Clock } from '../util/index.js';
import type { Logger } from './logger.js';
import { networkError } from './registry-errors.js';

/** An opened body and the blob offset of its first byte. */
export interface OpenedBody {
  body: Readable;
  start: number;
}

export interface ResumingReadOptions {
  /** Where the caller wants the stream to begin. */
  position: number;
  /** The blob's size: the stream fails as soon as it passes it, and a short end is resumed. */
  size: number;
  what: string;
  url: string;
  /** Consecutive failures without progress before giving up. */
  maxResumes: number;
  clock: Clock;
  signal?: AbortSignal | undefined;
  logger?: Logger | undefined;
}

/**
 * A byte stream over `first` that, when the connection breaks (or ends short), reopens at the
 * current position through `open` (which sends `Range`) and carries on: undici's retry-handler
 * idea. A server that ignores Range answers from 0 and the already-delivered prefix is skipped.
 */
export function resumingRead(first: OpenedBody, open: (position: number) => Promise<OpenedBody>, o: ResumingReadOptions): Readable {
  const holder = { body: first.body };
  const stream = Readable.from(chunks(first, open, o, holder), { objectMode: false });
  // Readable.from's destroy waits for the generator to reach a yield; break a stalled read now.
  stream.once('close', () => holder.body.destroy());
  return stream;
}

async function* chunks(first: OpenedBody, open: (position: number) => Promise<OpenedBody>, o: ResumingReadOptions, holder: { body: Readable }): AsyncGenerator<Buffer> {
  let body = first.body;
  let skip = o.position - first.start;
  let pos = o.position;
  let failures = 0;
  try {
    for (;;) {
      let failure: unknown;
      const startedAt = pos;
      try {
        for await (const c of body) {
          let chunk = c as Buffer;
          if (skip > 0) {
            if (chunk.length <= skip) {
              skip -= chunk.length;
              continue;
            }
            chunk = chunk.subarray(skip);
            skip = 0;
          }
          pos += chunk.length;
          if (pos > o.size) throw new LadingError('SIZE_MISMATCH', `size mismatch for ${o.what}: more than the expected ${o.size} bytes`);
          yield chunk;
        }
        if (pos === o.size) return;
        failure = undefined; // clean but short end
      } catch (e) {
        if (o.signal?.aborted) throw canceled(o.signal);
        if (e instanceof LadingError) throw e;
        failure = e;
      }
      if (pos > startedAt) failures = 0;
      if (failures >= o.maxResumes) {
        if (failure === undefined) throw new LadingError('SIZE_MISMATCH', `size mismatch for ${o.what}: got ${pos} bytes, expected ${o.size}`);
        throw networkError('GET', o.url, failure);
      }
      failures++;
      o.logger?.log('debug', 'blob read interrupted, resuming', { blob: o.what, position: pos, attempt: failures, error: failure instanceof Error ? failure.message : 'short read' });
      body.destroy();
      try {
        await o.clock.sleep(backoffDelay(failures - 1, o.clock), o.signal);
      } catch (e) {
        if (o.signal?.aborted) throw canceled(o.signal);
        throw e;
      }
      const next = await open(pos);
      body = next.body;
      holder.body = body;
      skip = pos - next.start;
    }
  } finally {
    body.destroy();
  }
}
