import { Readable, finished } from 'node:stream';
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
  return new ResumingRead(first, open, o);
}

const ignore = (): void => {};

/**
 * Forwards the current body's chunks as they arrive, pausing it when our buffer is full. A class
 * rather than an async generator under Readable.from: a layer's thousands of chunks then cost a
 * function call each instead of a generator step and two promises (measured on 160 MB pulls).
 */
class ResumingRead extends Readable {
  private body!: Readable;
  private detach: () => void = ignore;
  private pos: number;
  /** Bytes of the current body already delivered by an earlier one (a server ignoring Range). */
  private skip = 0;
  /** Where the current body took over: a failure after progress resets the failure count. */
  private startedAt = 0;
  private failures = 0;
  private reopening = false;

  constructor(
    first: OpenedBody,
    private readonly open: (position: number) => Promise<OpenedBody>,
    private readonly o: ResumingReadOptions,
  ) {
    super();
    this.pos = o.position;
    this.attach(first);
  }

  override _read(): void {
    if (!this.reopening) this.body.resume();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.release();
    cb(err);
  }

  private attach(b: OpenedBody): void {
    const body = b.body;
    this.body = body;
    this.skip = this.pos - b.start;
    this.startedAt = this.pos;
    const onData = (c: Buffer): void => {
      let chunk = c;
      if (this.skip > 0) {
        if (chunk.length <= this.skip) {
          this.skip -= chunk.length;
          return;
        }
        chunk = chunk.subarray(this.skip);
        this.skip = 0;
      }
      this.pos += chunk.length;
      if (this.pos > this.o.size) {
        this.destroy(new LadingError('SIZE_MISMATCH', `size mismatch for ${this.o.what}: more than the expected ${this.o.size} bytes`));
        return;
      }
      if (!this.push(chunk)) body.pause();
    };
    body.on('data', onData);
    const stopWatching = finished(body, (err) => {
      if (this.destroyed || this.body !== body) return;
      if (err) this.failed(err);
      else if (this.pos === this.o.size) this.push(null);
      else this.failed(undefined); // a clean but short end
    });
    this.detach = () => {
      body.removeListener('data', onData);
      stopWatching();
    };
  }

  /** Stop listening to the current body and destroy it; later errors from it go nowhere. */
  private release(): void {
    this.detach();
    this.detach = ignore;
    this.body.on('error', ignore);
    this.body.destroy();
  }

  private failed(failure: unknown): void {
    const { o } = this;
    if (o.signal?.aborted) {
      this.destroy(canceled(o.signal));
      return;
    }
    if (failure instanceof LadingError) {
      this.destroy(failure);
      return;
    }
    if (this.pos > this.startedAt) this.failures = 0;
    if (this.failures >= o.maxResumes) {
      this.destroy(
        failure === undefined ? new LadingError('SIZE_MISMATCH', `size mismatch for ${o.what}: got ${this.pos} bytes, expected ${o.size}`) : networkError('GET', o.url, failure),
      );
      return;
    }
    this.failures++;
    o.logger?.log('debug', 'blob read interrupted, resuming', {
      blob: o.what,
      position: this.pos,
      attempt: this.failures,
      error: failure instanceof Error ? failure.message : 'short read',
    });
    this.release();
    this.reopening = true;
    void this.reopen();
  }

  private async reopen(): Promise<void> {
    const { o } = this;
    let next: OpenedBody;
    try {
      await o.clock.sleep(backoffDelay(this.failures - 1, o.clock), o.signal);
      if (this.destroyed) return; // the consumer went away meanwhile
      next = await this.open(this.pos);
    } catch (e) {
      this.destroy(o.signal?.aborted ? canceled(o.signal) : (e as Error));
      return;
    }
    if (this.destroyed) {
      next.body.on('error', ignore);
      next.body.destroy();
      return;
    }
    this.reopening = false;
    this.attach(next); // it flows until our buffer is full, as the first body did
  }
}
