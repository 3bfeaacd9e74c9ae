import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LadingError, canceled, isCode, throwIfAborted } from '../errors/index.js';
import { parseDigest, type Digest } from '../oci/index.js';
import type { BlobInfo, ContentStore } from './types.js';

/**
 * What `open(offset)` gives back. A plain Readable must start at the requested offset. A
 * provider that could not honour it (a registry answering 200 to a Range request) returns
 * `{ stream, offset }` with the offset the stream really starts at (<= the requested one);
 * storeBlob then discards the bytes it already holds, so the kept partial stays valid.
 */
export type BlobSource = Readable | { stream: Readable; offset: number };

export type OpenAt = (offset: number, o: { signal: AbortSignal }) => Promise<BlobSource>;

export interface StoreBlobOpts {
  signal?: AbortSignal;
  /** Bytes in the ingest so far (a resume starts above 0), and the blob's size. */
  onProgress?: (bytesSoFar: number, total: number) => void;
  /** Ingest ref; defaults to the digest, so every pull of a blob shares one ingest (containerd MakeRefKey). */
  ref?: string;
  /** How long to wait for another process writing the same ref. */
  timeoutMs?: number;
}

export interface StoreBlobResult {
  /** Bytes actually read from open(): 0 when the blob existed or the ingest was complete. */
  fetched: number;
  /** The blob was already committed (possibly by a process we waited for). */
  existed: boolean;
}

type ProgressFn = (bytesSoFar: number, total: number) => void;

interface Flight {
  promise: Promise<StoreBlobResult>;
  ctl: AbortController;
  callers: number;
  listeners: Set<ProgressFn>;
}

/*
 * In-process dedupe, one table per store (held weakly beside it, so stores never share one and
 * a dropped store takes its table along). Like util's SingleFlight the entry goes when the
 * download settles, so a failure is retried by the next caller; unlike it, the download is
 * cancelled only when every caller sharing it has gone.
 */
const flightsByStore = new WeakMap<ContentStore, Map<string, Flight>>();

/**
 * The one copy routine into the store (containerd content.Copy): skip if present; take the ingest
 * for the ref, waiting for another holder and then returning `existed` if it committed the blob;
 * resume at the ingest's offset; verify and commit. Errors keep the partial ingest for a later
 * resume (a cancellation included: SIGINT closes, never aborts), except size and digest
 * mismatches, which discard it. A source that ends early is UNAVAILABLE (retry resumes).
 */
export async function storeBlob(
  store: ContentStore,
  desc: { digest: Digest; size: number },
  open: OpenAt,
  o: StoreBlobOpts = {},
): Promise<StoreBlobResult> {
  parseDigest(desc.digest);
  if (!(Number.isSafeInteger(desc.size) && desc.size >= 0)) throw new LadingError('INVALID_ARGUMENT', `invalid size ${desc.size}`);
  throwIfAborted(o.signal);
  let table = flightsByStore.get(store);
  if (!table) flightsByStore.set(store, (table = new Map()));
  const key = desc.digest;
  let f = table.get(key);
  if (!f || f.ctl.signal.aborted) {
    const ctl = new AbortController();
    const nf: Flight = { ctl, callers: 0, listeners: new Set(), promise: Promise.resolve({ fetched: 0, existed: false }) };
    const t = table;
    nf.promise = copyOnce(store, desc, open, {
      signal: ctl.signal,
      ref: o.ref ?? desc.digest,
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      onProgress: (n, total) => {
        for (const l of nf.listeners) l(n, total);
      },
    }).finally(() => {
      if (t.get(key) === nf) t.delete(key);
    });
    table.set(key, nf);
    f = nf;
  }
  return attach(f, o.signal, o.onProgress);
}

function attach(f: Flight, signal: AbortSignal | undefined, onProgress: ProgressFn | undefined): Promise<StoreBlobResult> {
  f.callers++;
  if (onProgress) f.listeners.add(onProgress);
  let left = false;
  const leave = () => {
    if (left) return false;
    left = true;
    f.callers--;
    if (onProgress) f.listeners.delete(onProgress);
    return true;
  };
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      if (!leave()) return;
      if (f.callers > 0) {
        reject(canceled(signal));
        return;
      }
      // The last caller cancels the download and returns once its ingest is closed (kept).
      f.ctl.abort(signal?.reason);
      f.promise.then(
        () => reject(canceled(signal)),
        () => reject(canceled(signal)),
      );
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    f.promise.then(
      (v) => {
        signal?.removeEventListener('abort', onAbort);
        if (leave()) resolve(v);
      },
      (e: unknown) => {
        signal?.removeEventListener('abort', onAbort);
        if (leave()) reject(e);
      },
    );
  });
}

async function copyOnce(
  store: ContentStore,
  desc: { digest: Digest; size: number },
  open: OpenAt,
  o: { signal: AbortSignal; ref: string; timeoutMs?: number; onProgress: ProgressFn },
): Promise<StoreBlobResult> {
  const { signal } = o;
  const present = await store.info(desc.digest);
  if (present) return existed(present, desc);
  let fetched = 0;
  for (let attempt = 0; ; attempt++) {
    const ing = await store.ingest(o.ref, desc, { signal, ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) });
    const resumedFrom = ing.offset;
    try {
      // We may have waited for another process that committed it meanwhile.
      const now = await store.info(desc.digest);
      if (now) {
        await ing.abort();
        return existed(now, desc);
      }
      o.onProgress(ing.offset, desc.size);
      if (ing.offset < desc.size) {
        const src = await open(ing.offset, { signal });
        const { stream, offset } = src instanceof Readable ? { stream: src, offset: ing.offset } : src;
        if (!(Number.isSafeInteger(offset) && offset >= 0 && offset <= ing.offset)) {
          stream.destroy();
          throw new LadingError('INTERNAL', `blob source for ${desc.digest} started at ${offset}, after the requested ${ing.offset}`);
        }
        const skip = ing.offset - offset;
        const counter = new ByteCounter(ing.offset, desc.size, o.onProgress);
        try {
          if (skip > 0) {
            await pipeline(stream, new SkipCounter(skip, counter), ing.writable(), { signal });
          } else {
            // The common case counts beside the pipe rather than through a Transform: one
            // function call per chunk instead of a second stream hop.
            stream.on('data', counter.onData);
            await pipeline(stream, ing.writable(), { signal });
          }
        } finally {
          fetched += counter.bytes;
        }
        if (ing.offset < desc.size) {
          throw new LadingError('UNAVAILABLE', `unexpected end of ${desc.digest} after ${ing.offset} of ${desc.size} bytes`, {
            detail: { expected: desc.size, found: ing.offset },
          });
        }
      }
      await ing.commit(desc);
      return { fetched, existed: false };
    } catch (e) {
      if (isCode(e, 'SIZE_MISMATCH') || isCode(e, 'DIGEST_MISMATCH')) {
        await ing.abort();
        // The partial kept from an earlier run may be what was wrong: start over once from zero.
        if (resumedFrom > 0 && attempt === 0 && !signal.aborted) continue;
      } else {
        await ing.close().catch(() => {});
      }
      if (signal.aborted) throw canceled(signal);
      throw e;
    }
  }
}

function existed(i: BlobInfo, desc: { digest: Digest; size: number }): StoreBlobResult {
  if (i.size !== desc.size) {
    throw new LadingError('SIZE_MISMATCH', `size mismatch for ${desc.digest}: stored blob has ${i.size} bytes, expected ${desc.size}`, {
      detail: { expected: desc.size, found: i.size },
    });
  }
  return { fetched: 0, existed: true };
}

/** Counts bytes read from the source and reports the position they take the ingest to. */
class ByteCounter {
  bytes = 0;
  constructor(
    private pos: number,
    private readonly total: number,
    private readonly onProgress: ProgressFn,
  ) {}

  /** A chunk read, of which the first `skipped` bytes were already stored. */
  readonly onData = (chunk: Buffer, skipped = 0): void => {
    this.bytes += chunk.length;
    if (chunk.length === skipped) return;
    this.pos += chunk.length - skipped;
    this.onProgress(this.pos, this.total);
  };
}

/** Drops the first `skip` bytes (already stored), counting every byte read. */
class SkipCounter extends Transform {
  constructor(
    private skip: number,
    private readonly counter: ByteCounter,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const skipped = Math.min(this.skip, chunk.length);
    this.skip -= skipped;
    this.counter.onData(chunk, skipped);
    cb(null, skipped === chunk.length ? undefined : skipped > 0 ? chunk.subarray(skipped) : chunk);
  }
}
