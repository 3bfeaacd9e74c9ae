import { constants as fsConstants } from 'node:fs';
import { chmod, mkdir, open, readFile, rename, rm, stat, utimes, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes, type Hash } from 'node:crypto';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { LadingError } from '../errors/index.js';
import { digestAlgorithm, hashDigest, isDigest, newHasher, type Digest } from '../oci/index.js';
import { failpoint, fsyncDir, type Clock } from '../util/index.js';
import type { HeldLock } from './ingest-lock.js';
import type { CommittedBlob, Ingest } from './types.js';

/** Files of an ingest directory (containerd plugins/content/local/store.go). */
export const INGEST_FILES = { data: 'data', ref: 'ref', startedAt: 'startedat', total: 'total', expected: 'expected' } as const;

export interface IngestHost {
  readonly clock: Clock;
  /** Final path of a blob. */
  path(d: Digest): string;
  /** Where a discarded ingest directory is moved before removal. */
  trashPath(): string;
}

/**
 * Written data is flushed to disk in the background every this many bytes, so the fsync at commit
 * finds little left to write: for a 95 MB layer that fsync took 100-170 ms at the end of the pull,
 * where nothing else overlaps it; with 4 MiB steps it takes under 10 ms (each step ~9 ms, on the
 * thread pool, while the download goes on).
 */
const WRITEBACK_BYTES = 4 << 20;

const code = (e: unknown) => (e as NodeJS.ErrnoException).code;

export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (e) {
    if (code(e) === 'ENOENT') return undefined;
    throw e;
  }
}

export function parseSize(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

type State = 'open' | 'committed' | 'closed' | 'aborted';

/**
 * A held ingest directory. Bytes go straight to `data` through positioned writes that honour the
 * writable's backpressure; each chunk is hashed while its write is in flight.
 */
export class FsIngest implements Ingest {
  private state: State = 'open';
  private w: Writable | undefined;
  private pending: Promise<unknown> = Promise.resolve();
  private broken: unknown;
  /** The background flush in flight; it never rejects (a failure marks the ingest broken). */
  private syncing: Promise<void> | undefined;
  private syncedTo: number;
  private constructor(
    private readonly host: IngestHost,
    private readonly dir: string,
    readonly ref: string,
    private readonly expect: { digest?: Digest; size?: number },
    private readonly lock: HeldLock,
    private fh: FileHandle | undefined,
    private readonly algo: string,
    private readonly hash: Hash,
    private bytes: number,
  ) {
    this.syncedTo = bytes;
  }

  get offset(): number {
    return this.bytes;
  }

  /**
   * Open the ingest in `dir` (whose lock the caller holds). Partial data is kept and re-hashed
   * to restore the hash state (containerd resumeStatus), unless it contradicts the expectation.
   */
  static async open(host: IngestHost, dir: string, ref: string, expect: { digest?: Digest; size?: number }, lock: HeldLock): Promise<FsIngest> {
    const f = (n: string) => join(dir, n);
    const [refText, prevExpected, prevTotalText] = await Promise.all([
      readOptional(f(INGEST_FILES.ref)),
      readOptional(f(INGEST_FILES.expected)),
      readOptional(f(INGEST_FILES.total)),
    ]);
    const prevTotal = parseSize(prevTotalText);
    let reset = refText !== ref; // new ingest, or an unreadable one
    if (expect.digest !== undefined && prevExpected !== undefined && prevExpected !== expect.digest) reset = true;
    if (expect.size !== undefined && prevTotal !== undefined && prevTotal !== expect.size) reset = true;
    const merged = {
      digest: expect.digest ?? (!reset && prevExpected !== undefined && isDigest(prevExpected) ? (prevExpected as Digest) : undefined),
      size: expect.size ?? (reset ? undefined : prevTotal),
    };
    const algo = merged.digest ? digestAlgorithm(merged.digest) : 'sha256';
    const hash = newHasher(algo);
    const fh = await open(f(INGEST_FILES.data), fsConstants.O_RDWR | fsConstants.O_CREAT, 0o644);
    try {
      let size = (await fh.stat()).size;
      if (reset || (merged.size !== undefined && size > merged.size)) {
        await fh.truncate(0);
        size = 0;
      }
      // Re-hash the kept bytes: the hash state cannot be saved, and this also covers bytes
      // written by a process that crashed before it could record anything.
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, Math.max(size, 1)));
      let pos = 0;
      while (pos < size) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
        if (bytesRead === 0) break;
        hash.update(buf.subarray(0, bytesRead));
        pos += bytesRead;
      }
      if (pos < size) await fh.truncate(pos);
      // The files go in parallel (each write is three trips to the thread pool, and a pull opens
      // several ingests at once), `ref` last: it marks an ingest whose other files are in place.
      await Promise.all([
        reset ? writeFile(f(INGEST_FILES.startedAt), String(host.clock.now())) : undefined,
        merged.size !== undefined && (reset || prevTotal !== merged.size)
          ? writeFile(f(INGEST_FILES.total), String(merged.size))
          : reset
            ? rm(f(INGEST_FILES.total), { force: true })
            : undefined,
        merged.digest !== undefined && (reset || prevExpected !== merged.digest)
          ? writeFile(f(INGEST_FILES.expected), merged.digest)
          : reset
            ? rm(f(INGEST_FILES.expected), { force: true })
            : undefined,
      ]);
      if (reset) await writeFile(f(INGEST_FILES.ref), ref);
      return new FsIngest(host, dir, ref, merged, lock, fh, algo, hash, pos);
    } catch (e) {
      await fh.close().catch(() => {});
      throw e;
    }
  }

  writable(): Writable {
    this.assertOpen();
    if (this.w && !this.w.writableFinished && !this.w.destroyed) return this.w;
    let first = true;
    const write = (bufs: Buffer[], cb: (e?: Error | null) => void) => {
      this.append(bufs).then(() => {
        if (first) {
          first = false;
          try {
            failpoint('content.write.mid');
          } catch (e) {
            cb(e as Error);
            return;
          }
        }
        cb();
      }, cb);
    };
    // A deep buffer lets chunks pile up while a write runs, so they go out as one larger write
    // (measured: half the main-thread time spent submitting 64 KiB writes).
    this.w = new BatchingWritable({
      highWaterMark: 1 << 20,
      write: (chunk: Buffer, _enc, cb) => write([chunk], cb),
      writev: (chunks, cb) => write(chunks.map((c) => c.chunk as Buffer), cb),
    });
    return this.w;
  }

  private async append(bufs: Buffer[]): Promise<void> {
    this.assertOpen();
    if (this.broken !== undefined) throw this.broken;
    const fh = this.fh;
    if (!fh) throw new LadingError('INTERNAL', `ingest ${this.ref} has no open data file`);
    let len = 0;
    for (const b of bufs) len += b.length;
    const total = this.expect.size;
    if (total !== undefined && this.bytes + len > total) {
      // Fail before EOF: a consumer never sees a clean end of oversized data.
      throw new LadingError('SIZE_MISMATCH', `size mismatch for ${this.expect.digest ?? this.ref}: more than the expected ${total} bytes`, {
        detail: { expected: total, found: this.bytes + len },
      });
    }
    // One vectored write for the batch (no copy into a joined buffer).
    const p = writeAllv(fh, bufs, this.bytes);
    this.pending = p.catch(() => {});
    // Hash on the main thread while the write runs on the thread pool.
    for (const b of bufs) this.hash.update(b);
    try {
      await p;
    } catch (e) {
      // The hash now covers bytes that may not be on disk: only a resume (re-hash) can continue.
      this.broken = e;
      throw e;
    }
    this.bytes += len;
    this.writeback(fh);
  }

  /** Start flushing what has been written, in the background, one flush at a time. */
  private writeback(fh: FileHandle): void {
    if (this.syncing || this.bytes - this.syncedTo < WRITEBACK_BYTES) return;
    this.syncedTo = this.bytes;
    this.syncing = fh
      .datasync()
      .then(() => failpoint('content.writeback'))
      .catch((e: unknown) => {
        // Data may be lost, and the fsync at commit need not report it again: refuse to commit.
        this.broken ??= e;
      })
      .finally(() => {
        this.syncing = undefined;
      });
  }

  async commit(expect: { digest?: Digest; size?: number } = {}): Promise<CommittedBlob> {
    this.assertOpen();
    await this.endWritable();
    if (this.broken !== undefined) {
      throw new LadingError('INTERNAL', `ingest ${this.ref} failed while writing; close it and resume`, { cause: this.broken });
    }
    const wantDigest = expect.digest ?? this.expect.digest;
    const wantSize = expect.size ?? this.expect.size;
    if (wantDigest !== undefined && digestAlgorithm(wantDigest) !== this.algo) {
      throw new LadingError('INVALID_ARGUMENT', `cannot commit ${wantDigest}: ingest ${this.ref} hashes with ${this.algo}`);
    }
    const fh = this.fh;
    this.fh = undefined; // undefined on a second attempt after a failed rename: already synced
    if (fh) {
      try {
        await this.syncing;
        if (this.broken !== undefined) {
          throw new LadingError('INTERNAL', `ingest ${this.ref} failed while writing; close it and resume`, { cause: this.broken });
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    const size = this.bytes;
    if (wantSize !== undefined && size !== wantSize) {
      await this.discard('aborted');
      throw new LadingError('SIZE_MISMATCH', `size mismatch for ${wantDigest ?? this.ref}: got ${size} bytes, expected ${wantSize}`, {
        detail: { expected: wantSize, found: size },
      });
    }
    const found = hashDigest(this.algo, this.hash.copy());
    if (wantDigest !== undefined && found !== wantDigest) {
      await this.discard('aborted');
      throw new LadingError('DIGEST_MISMATCH', `digest mismatch: expected ${wantDigest}, got ${found}`, {
        detail: { expected: wantDigest, found },
      });
    }
    failpoint('content.commit.before-rename');
    const data = join(this.dir, INGEST_FILES.data);
    const target = this.host.path(found);
    await mkdir(dirname(target), { recursive: true });
    if (!(await exists(target))) {
      // An existing blob is success (containerd ErrAlreadyExists): our copy goes with the ingest.
      const now = new Date(this.host.clock.now());
      await utimes(data, now, now); // createdAt = commit time
      await rename(data, target);
      await fsyncDir(dirname(target));
      await chmod(target, 0o444);
    }
    await this.discard('committed');
    return { digest: found, size };
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closed';
    this.w?.destroy();
    await this.pending;
    await this.syncing; // never close the descriptor under a flush
    const fh = this.fh;
    this.fh = undefined;
    try {
      await fh?.close();
    } finally {
      await this.lock.release();
    }
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.w?.destroy();
    await this.pending;
    await this.syncing;
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close().catch(() => {});
    await this.discard('aborted');
  }

  /** Finish a writable the caller has not ended yet, so commit sees every byte. */
  private async endWritable(): Promise<void> {
    const w = this.w;
    if (!w) return;
    if (!w.writableEnded && !w.destroyed) w.end();
    try {
      await finished(w);
    } catch (e) {
      if (this.broken === undefined) this.broken = e;
    }
    await this.pending;
  }

  /**
   * Remove the ingest directory while still holding its lock: rename it aside first, so a waiter
   * sees either our locked directory or none, never a half-deleted one to lock.
   */
  private async discard(final: State): Promise<void> {
    this.state = final;
    const trash = this.host.trashPath();
    let moved = true;
    try {
      await rename(this.dir, trash);
    } catch (e) {
      if (code(e) !== 'ENOENT') throw e;
      moved = false;
    }
    await this.lock.release();
    if (moved) await rm(trash, { recursive: true, force: true });
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw new LadingError('INTERNAL', `ingest ${this.ref} is ${this.state}`);
  }
}

/**
 * A Writable that, when idle, holds a write until the current turn of the event loop is over, so
 * everything that arrives in that turn (a download's 64 KiB socket reads) goes out as one vectored
 * write. While a write runs, chunks queue as in any Writable. Measured on a 160 MB pull: 35-50 %
 * fewer writes, ~30 ms less time to download.
 */
class BatchingWritable extends Writable {
  private holding = false;

  override write(chunk: unknown, encoding?: BufferEncoding | ((e?: Error | null) => void), cb?: (e?: Error | null) => void): boolean {
    if (!this.holding && this.writableLength === 0 && !this.writableCorked) {
      this.holding = true;
      this.cork();
      setImmediate(() => {
        this.holding = false;
        this.uncork(); // a no-op once end() has uncorked it
      });
    }
    return typeof encoding === 'function' ? super.write(chunk, encoding) : super.write(chunk, encoding as BufferEncoding, cb);
  }
}

async function writeAllv(fh: FileHandle, bufs: Buffer[], position: number): Promise<void> {
  let rest = bufs;
  let pos = position;
  while (rest.length > 0) {
    const { bytesWritten } = await fh.writev(rest, pos);
    pos += bytesWritten;
    // A short write: drop what went out, keep the tail of a partly written buffer.
    let n = bytesWritten;
    let i = 0;
    while (i < rest.length && n >= rest[i]!.length) n -= rest[i++]!.length;
    rest = rest.slice(i);
    if (n > 0) rest[0] = rest[0]!.subarray(n);
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch (e) {
    if (code(e) === 'ENOENT') return false;
    throw e;
  }
}

export function trashName(): string {
  return `.trash-${randomBytes(8).toString('hex')}`;
}
