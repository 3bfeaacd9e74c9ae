import { createHash, randomUUID, type Hash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LadingError } from '../../errors/index.js';
import { digestAlgorithm, type Digest } from '../../oci/index.js';
import { atomicWrite, failpoint, fsyncDir } from '../../util/index.js';
import { list } from './fs-blobs.js';
import { FsPaths, errno } from './fs-paths.js';
import type { BlobStat, UploadInfo, UploadStore } from './types.js';

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface HashState {
  hash: Hash;
  offset: number;
}

const unknown = (id: string) => new LadingError('NOT_FOUND', `upload ${id}: not found`);

/**
 * Uploads as files: `uploads/<id>/data` holds the bytes so far (its size is the offset, the one
 * source of truth) and `info.json` the repository and start time. The running sha256 of each
 * upload is kept in memory, so chunks are hashed once as they are written; after a restart (or
 * an append that failed half-way) it is rebuilt by re-reading `data`.
 */
export class FsUploadStore implements UploadStore {
  private readonly hashes = new Map<string, HashState>();
  /** One request at a time per upload in this process. */
  private readonly busy = new Set<string>();

  constructor(private readonly paths: FsPaths) {}

  async start(repository: string): Promise<UploadInfo> {
    const id = randomUUID();
    const dir = this.paths.upload(id);
    await mkdir(dir, { recursive: true });
    const startedAt = new Date();
    await (await open(join(dir, 'data'), 'wx')).close();
    await atomicWrite(join(dir, 'info.json'), JSON.stringify({ repository, startedAt: startedAt.toISOString() }));
    this.hashes.set(id, { hash: createHash('sha256'), offset: 0 });
    return { id, repository, offset: 0, startedAt, updatedAt: startedAt };
  }

  async info(id: string): Promise<UploadInfo | undefined> {
    if (!ID.test(id)) return undefined;
    const dir = this.paths.upload(id);
    try {
      const [text, st] = await Promise.all([readFile(join(dir, 'info.json'), 'utf8'), stat(join(dir, 'data'))]);
      const doc = JSON.parse(text) as { repository?: unknown; startedAt?: unknown };
      if (typeof doc.repository !== 'string') return undefined;
      return { id, repository: doc.repository, offset: st.size, startedAt: new Date(String(doc.startedAt)), updatedAt: st.mtime };
    } catch (e) {
      if (errno(e) === 'ENOENT' || e instanceof SyntaxError) return undefined;
      throw e;
    }
  }

  async append(id: string, at: number, body: Readable, o: { signal?: AbortSignal; maxBytes?: number } = {}): Promise<number> {
    return this.exclusive(id, async () => {
      const fh = await this.openData(id);
      let closed = false;
      try {
        const offset = (await fh.stat()).size;
        if (at !== offset) {
          body.resume();
          throw new LadingError('CONFLICT', `upload ${id} is at offset ${offset}, not ${at}`, { detail: { offset } });
        }
        const state = await this.hashState(id, fh, offset);
        // Until this append succeeds the cached state is suspect (bytes hashed but not written).
        this.hashes.delete(id);
        const counter = new HashingCounter(state.hash, offset, o.maxBytes);
        const out = fh.createWriteStream({ start: offset, autoClose: true, highWaterMark: 1 << 20 });
        closed = true; // the write stream owns the handle now
        await pipeline(body, counter, out, o.signal ? { signal: o.signal } : {});
        this.hashes.set(id, { hash: state.hash, offset: counter.count });
        return counter.count;
      } finally {
        if (!closed) await fh.close();
      }
    });
  }

  async commit(id: string, digest: Digest): Promise<BlobStat> {
    return this.exclusive(id, async () => {
      const dir = this.paths.upload(id);
      const data = join(dir, 'data');
      const fh = await this.openData(id);
      let size: number;
      let got: string;
      try {
        size = (await fh.stat()).size;
        const algo = digestAlgorithm(digest);
        if (algo === 'sha256') {
          const state = await this.hashState(id, fh, size);
          got = `sha256:${state.hash.copy().digest('hex')}`;
        } else {
          const h = createHash(algo);
          await rehash(fh, size, h);
          got = `${algo}:${h.digest('hex')}`;
        }
        if (got !== digest) {
          await fh.close();
          await this.remove(id);
          throw new LadingError('DIGEST_MISMATCH', `digest mismatch: expected ${digest}, got ${got}`, { detail: { expected: digest, found: got } });
        }
        // Data durable before the rename publishes it (metadata such as mtime need not be).
        await fh.datasync();
      } finally {
        await fh.close().catch(() => {});
      }
      failpoint('registry.commit.before-rename');
      const target = this.paths.blob(digest);
      await mkdir(dirname(target), { recursive: true });
      // Same filesystem: one atomic rename. An identical blob already there is simply replaced.
      await rename(data, target);
      await fsyncDir(dirname(target));
      const st = await stat(target);
      await this.remove(id);
      return { digest, size, referencedAt: st.mtime };
    });
  }

  async cancel(id: string): Promise<boolean> {
    if (!ID.test(id)) return false;
    const existed = (await this.info(id)) !== undefined;
    await this.remove(id);
    return existed;
  }

  async *list(): AsyncIterable<UploadInfo> {
    for (const id of await list(this.paths.uploadsDir)) {
      const i = await this.info(id);
      if (i) yield i;
    }
  }

  private async remove(id: string): Promise<void> {
    this.hashes.delete(id);
    const dir = this.paths.upload(id);
    // Rename first so a half-removed upload never looks like a live one.
    await mkdir(this.paths.tmpDir, { recursive: true });
    const trash = join(this.paths.tmpDir, `upload-${id}-${Date.now()}`);
    try {
      await rename(dir, trash);
    } catch (e) {
      if (errno(e) === 'ENOENT') return;
      throw e;
    }
    await rm(trash, { recursive: true, force: true });
  }

  /** The upload's data file, opened for appending and reading; NOT_FOUND for an unknown upload. */
  private async openData(id: string): Promise<import('node:fs/promises').FileHandle> {
    try {
      return await open(join(this.paths.upload(id), 'data'), 'r+');
    } catch (e) {
      if (errno(e) === 'ENOENT') throw unknown(id);
      throw e;
    }
  }

  private async hashState(id: string, fh: import('node:fs/promises').FileHandle, offset: number): Promise<HashState> {
    const cached = this.hashes.get(id);
    if (cached && cached.offset === offset) return cached;
    const hash = createHash('sha256');
    await rehash(fh, offset, hash);
    const state = { hash, offset };
    this.hashes.set(id, state);
    return state;
  }

  private async exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    if (!ID.test(id)) throw unknown(id);
    if (this.busy.has(id)) throw new LadingError('CONFLICT', `upload ${id} is busy with another request`);
    this.busy.add(id);
    try {
      return await fn();
    } finally {
      this.busy.delete(id);
    }
  }
}

async function rehash(fh: import('node:fs/promises').FileHandle, size: number, h: Hash): Promise<void> {
  const buf = Buffer.allocUnsafe(Math.min(4 << 20, Math.max(size, 1)));
  let pos = 0;
  while (pos < size) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
    if (bytesRead === 0) break;
    h.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
}

/** Hashes and counts bytes on their way to disk; fails past the size limit. */
class HashingCounter extends Transform {
  constructor(
    private readonly hash: Hash,
    public count: number,
    private readonly maxBytes: number | undefined,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.count += chunk.length;
    if (this.maxBytes !== undefined && this.count > this.maxBytes) {
      cb(new LadingError('SIZE_MISMATCH', `upload larger than the ${this.maxBytes}-byte limit`, { detail: { limit: this.maxBytes } }));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }
}
