import { mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Readable, addAbortSignal } from 'node:stream';
import { LadingError, canceled, throwIfAborted } from '../errors/index.js';
import { digestAlgorithm, digestHex, isDigest, parseDigest, type Digest } from '../oci/index.js';
import { backoffDelay, readLimited, systemClock, type Clock } from '../util/index.js';
import { FsIngest, INGEST_FILES, parseSize, readOptional, trashName } from './fs-ingest.js';
import { readLock, tryLock } from './ingest-lock.js';
import type { BlobInfo, ContentStore, Ingest, IngestOpts, IngestStatus, ReadOpts } from './types.js';

const DEFAULT_LOCK_TIMEOUT_MS = 10 * 60_000;

const code = (e: unknown) => (e as NodeJS.ErrnoException).code;

/**
 * Content store on a local filesystem (containerd plugins/content/local):
 *
 *   <root>/blobs/<algo>/<hex>                          committed, read-only (0444)
 *   <root>/ingest/<sha256(ref)>/{data,ref,startedat,total,expected,lock}
 *   <root>/ingest/.trash-*                             ingests being removed
 *
 * Ingests live under the same root as blobs, so commit is a rename on one filesystem.
 */
export class FsContentStore implements ContentStore {
  readonly clock: Clock;
  private readonly blobsDir: string;
  private readonly ingestDir: string;

  constructor(
    readonly root: string,
    o: { clock?: Clock } = {},
  ) {
    this.clock = o.clock ?? systemClock;
    this.blobsDir = join(root, 'blobs');
    this.ingestDir = join(root, 'ingest');
  }

  path(d: Digest): string {
    parseDigest(d); // never build a path from an unchecked string
    return join(this.blobsDir, digestAlgorithm(d), digestHex(d));
  }

  trashPath(): string {
    return join(this.ingestDir, trashName());
  }

  async info(d: Digest): Promise<BlobInfo | undefined> {
    const p = this.path(d);
    try {
      const st = await stat(p);
      return { digest: d, size: st.size, createdAt: st.mtime };
    } catch (e) {
      if (code(e) === 'ENOENT') return undefined;
      throw e;
    }
  }

  async open(d: Digest, o: ReadOpts = {}): Promise<Readable> {
    throwIfAborted(o.signal);
    const p = this.path(d);
    let fh: FileHandle;
    try {
      fh = await open(p, 'r');
    } catch (e) {
      if (code(e) === 'ENOENT') throw notFound(d, e);
      throw e;
    }
    try {
      const size = (await fh.stat()).size;
      const start = o.start ?? 0;
      const end = Math.min(o.end ?? size, size);
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || start > size || end < start) {
        throw new LadingError('INVALID_ARGUMENT', `invalid range ${o.start ?? 0}-${o.end ?? size} for ${d} of ${size} bytes`);
      }
      if (start === end) {
        await fh.close();
        return Readable.from([]);
      }
      const s = fh.createReadStream({ start, end: end - 1 }); // closes fh when done
      return o.signal ? addAbortSignal(o.signal, s) : s;
    } catch (e) {
      await fh.close().catch(() => {});
      throw e;
    }
  }

  async readAll(d: Digest, o: { maxBytes: number; signal?: AbortSignal }): Promise<Buffer> {
    const what = `blob ${d}`;
    const i = await this.info(d);
    if (i === undefined) throw notFound(d);
    if (i.size > o.maxBytes) throw new LadingError('INVALID_ARGUMENT', `${what} exceeds the ${o.maxBytes}-byte limit`);
    const s = await this.open(d, o.signal ? { signal: o.signal } : {});
    try {
      return await readLimited(s, o.maxBytes, what);
    } catch (e) {
      if (o.signal?.aborted) throw canceled(o.signal);
      throw e;
    }
  }

  async ingest(ref: string, expect: { digest?: Digest; size?: number } = {}, o: IngestOpts = {}): Promise<Ingest> {
    if (expect.digest !== undefined) parseDigest(expect.digest);
    if (expect.size !== undefined && !(Number.isSafeInteger(expect.size) && expect.size >= 0)) {
      throw new LadingError('INVALID_ARGUMENT', `invalid size ${expect.size}`);
    }
    const dir = join(this.ingestDir, refKey(ref));
    const deadline = this.clock.now() + (o.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
    // One holder per ref; others poll with jittered backoff (containerd content.OpenWriter).
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(o.signal);
      const r = await tryLock(dir, this.clock);
      if ('release' in r) {
        try {
          return await FsIngest.open(this, dir, ref, expect, r);
        } catch (e) {
          await r.release();
          throw e;
        }
      }
      const left = deadline - this.clock.now();
      if (left <= 0) {
        throw new LadingError('UNAVAILABLE', `ingest ${ref} is locked by process ${r.heldBy.pid}`, {
          hint: 'another pull or push of the same content is still running',
          detail: { ref, pid: r.heldBy.pid },
        });
      }
      try {
        await this.clock.sleep(Math.min(left, backoffDelay(attempt, this.clock, 25, 2000)), o.signal);
      } catch (e) {
        if (o.signal?.aborted) throw canceled(o.signal);
        throw e;
      }
    }
  }

  async delete(d: Digest): Promise<void> {
    try {
      await unlink(this.path(d));
    } catch (e) {
      if (code(e) === 'ENOENT') throw notFound(d, e);
      throw e;
    }
  }

  async *walk(): AsyncIterable<BlobInfo> {
    for (const algo of await listDir(this.blobsDir)) {
      const dir = join(this.blobsDir, algo);
      for (const hex of await listDir(dir)) {
        const d = `${algo}:${hex}`;
        if (!isDigest(d)) continue;
        const i = await this.info(d);
        if (i) yield i;
      }
    }
  }

  async *ingests(): AsyncIterable<IngestStatus> {
    for (const name of await listDir(this.ingestDir)) {
      if (name.startsWith('.')) continue;
      const s = await ingestStatus(join(this.ingestDir, name));
      if (s) yield s;
    }
  }

  async cleanupIngests(o: { olderThanMs: number }): Promise<number> {
    const cutoff = this.clock.now() - o.olderThanMs;
    let removed = 0;
    for (const name of await listDir(this.ingestDir)) {
      const dir = join(this.ingestDir, name);
      if (name.startsWith('.trash-')) {
        // Left by a process that died while removing an ingest.
        await rm(dir, { recursive: true, force: true });
        continue;
      }
      if (name.startsWith('.')) continue;
      // Take the lock so no writer can start while we remove; a held ingest is in use.
      const r = await tryLock(dir, this.clock);
      if (!('release' in r)) continue;
      try {
        const s = await ingestStatus(dir);
        if (s && s.updatedAt.getTime() >= cutoff) continue;
        const trash = this.trashPath();
        await rename(dir, trash);
        await rm(trash, { recursive: true, force: true });
        // Without a ref file the directory never held an ingest (its creator died first).
        if (s) removed++;
      } finally {
        await r.release();
      }
    }
    return removed;
  }

  /** Make the directories up front (optional: everything is created on demand). */
  async init(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true });
    await mkdir(this.ingestDir, { recursive: true });
  }
}

/** Ingest directories are named by a hash of the ref: refs are free-form. */
export function refKey(ref: string): string {
  return createHash('sha256').update(ref).digest('hex');
}

function notFound(d: Digest, cause?: unknown): LadingError {
  return new LadingError('NOT_FOUND', `content digest ${d}: not found`, cause === undefined ? {} : { cause });
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (e) {
    if (code(e) === 'ENOENT') return [];
    throw e;
  }
}

async function ingestStatus(dir: string): Promise<IngestStatus | undefined> {
  const f = (n: string) => join(dir, n);
  const ref = await readOptional(f(INGEST_FILES.ref));
  if (ref === undefined) return undefined;
  const [startedText, totalText, expected, lock, data] = await Promise.all([
    readOptional(f(INGEST_FILES.startedAt)),
    readOptional(f(INGEST_FILES.total)),
    readOptional(f(INGEST_FILES.expected)),
    readLock(dir).catch(() => undefined),
    stat(f(INGEST_FILES.data)).catch(() => undefined),
  ]);
  const started = parseSize(startedText);
  const startedAt = new Date(started ?? data?.mtimeMs ?? 0);
  const s: IngestStatus = {
    ref,
    offset: data?.size ?? 0,
    startedAt,
    updatedAt: data ? data.mtime : startedAt,
  };
  const total = parseSize(totalText);
  if (total !== undefined) s.total = total;
  if (expected !== undefined && isDigest(expected)) s.expected = expected;
  if (lock) s.lockedBy = { pid: lock.pid, startedAt: lock.startedAt };
  return s;
}
