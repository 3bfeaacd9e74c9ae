import { Readable } from 'node:stream';
import { mkdir, open, readdir, rename, stat, unlink, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LadingError } from '../../errors/index.js';
import { isDigest, sha256, type Digest, digestAlgorithm } from '../../oci/index.js';
import { atomicWrite, fsyncDir, readLimited } from '../../util/index.js';
import { FsPaths, errno } from './fs-paths.js';
import type { BlobStat, BlobStore, ByteRange } from './types.js';

const notFound = (d: Digest) => new LadingError('NOT_FOUND', `blob ${d}: not found`);

/** Blob reads use 1 MiB chunks: fewer syscalls and event-loop turns for big layers (bench/registry.ts). */
const READ_CHUNK = 1 << 20;

/**
 * Blobs on a filesystem. A blob's mtime is its last-referenced time: set when written, moved
 * forward by `touch` (manifest PUT, mount), read by the collector.
 */
export class FsBlobStore implements BlobStore {
  constructor(private readonly paths: FsPaths) {}

  async stat(d: Digest): Promise<BlobStat | undefined> {
    try {
      const st = await stat(this.paths.blob(d));
      return { digest: d, size: st.size, referencedAt: st.mtime };
    } catch (e) {
      if (errno(e) === 'ENOENT') return undefined;
      throw e;
    }
  }

  async open(d: Digest, o: { range?: ByteRange; signal?: AbortSignal } = {}) {
    let fh;
    try {
      fh = await open(this.paths.blob(d), 'r');
    } catch (e) {
      if (errno(e) === 'ENOENT') throw notFound(d);
      throw e;
    }
    const size = (await fh.stat()).size;
    const start = o.range?.start ?? 0;
    const end = o.range?.end ?? size;
    if (start < 0 || end > size || start > end) {
      await fh.close();
      throw new LadingError('INVALID_ARGUMENT', `range ${start}-${end} outside blob ${d} of ${size} bytes`);
    }
    if (start === end) {
      await fh.close();
      return { stream: Readable.from([]), size: 0 };
    }
    // The stream owns the handle and closes it when done or destroyed.
    const stream = fh.createReadStream({ start, end: end - 1, highWaterMark: READ_CHUNK, ...(o.signal ? { signal: o.signal } : {}) });
    return { stream, size: end - start };
  }

  async read(d: Digest, maxBytes: number): Promise<Buffer> {
    const s = await this.open(d);
    if (!('stream' in s)) throw new LadingError('INTERNAL', 'redirected blob read');
    return readLimited(s.stream, maxBytes, `blob ${d}`);
  }

  async put(d: Digest, bytes: Uint8Array): Promise<void> {
    if (digestAlgorithm(d) === 'sha256' && sha256(bytes) !== d) throw new LadingError('DIGEST_MISMATCH', `content does not match ${d}`);
    if (await this.touch(d)) return;
    const p = this.paths.blob(d);
    await mkdir(dirname(p), { recursive: true });
    await atomicWrite(p, bytes);
  }

  async touch(d: Digest): Promise<boolean> {
    const now = new Date();
    try {
      await utimes(this.paths.blob(d), now, now);
      return true;
    } catch (e) {
      if (errno(e) === 'ENOENT') return false;
      throw e;
    }
  }

  async delete(d: Digest): Promise<boolean> {
    try {
      await unlink(this.paths.blob(d));
      return true;
    } catch (e) {
      if (errno(e) === 'ENOENT') return false;
      throw e;
    }
  }

  /**
   * Rename into the trash first, then look at the mtime the file carried along: a `touch` that
   * ran before the rename made it young (put it back); one that runs after finds no file and
   * reports the blob unknown, so its caller never relies on a blob about to vanish.
   */
  async sweep(d: Digest, cutoff: Date): Promise<'deleted' | 'kept' | 'absent'> {
    const p = this.paths.blob(d);
    await mkdir(this.paths.tmpDir, { recursive: true });
    // The name keeps the digest so start-up can put back what a crashed collector held (fs-storage.ts).
    const trash = join(this.paths.tmpDir, `gc-${d.replace(':', '-')}-${randomBytes(4).toString('hex')}`);
    try {
      await rename(p, trash);
    } catch (e) {
      if (errno(e) === 'ENOENT') return 'absent';
      throw e;
    }
    let st;
    try {
      st = await stat(trash);
    } catch (e) {
      if (errno(e) === 'ENOENT') return 'kept'; // restored by a starting server
      throw e;
    }
    if (st.mtime.getTime() >= cutoff.getTime()) {
      await rename(trash, p); // an identical copy committed meanwhile is simply replaced
      return 'kept';
    }
    await unlink(trash);
    await fsyncDir(dirname(p)).catch(() => {});
    return 'deleted';
  }

  async *walk(): AsyncIterable<BlobStat> {
    for (const algo of await list(this.paths.blobsDir)) {
      for (const fan of await list(join(this.paths.blobsDir, algo))) {
        for (const hex of await list(join(this.paths.blobsDir, algo, fan))) {
          const d = `${algo}:${hex}`;
          if (!isDigest(d)) continue;
          const s = await this.stat(d);
          if (s) yield s;
        }
      }
    }
  }
}

export async function list(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (e) {
    if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return [];
    throw e;
  }
}
