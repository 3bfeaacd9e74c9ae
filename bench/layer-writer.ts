import { createHash, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants as zc, createGzip } from 'node:zlib';
import { pack as tarPack, type Header, type Pack } from 'tar-stream';

type Sink = ReturnType<Pack['entry']>;

const MTIME = new Date('2024-03-01T12:00:00Z');

export interface LayerStats {
  /** sha256 of the gzip blob. */
  digest: string;
  /** Compressed size. */
  size: number;
  /** sha256 of the uncompressed tar. */
  diffId: string;
  tarSize: number;
  /** Bytes of regular-file content. */
  fileBytes: number;
  entries: number;
  whiteouts: number;
}

/** Passes chunks through while hashing and counting them. */
class HashTap extends Transform {
  readonly hash: Hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

/** Adds entries to a tar-stream pack, awaiting each so memory stays bounded (backpressure). */
export class LayerWriter {
  entries = 0;
  fileBytes = 0;
  whiteouts = 0;
  private readonly names = new Set<string>();

  constructor(private readonly pack: Pack) {}

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`duplicate tar entry ${name}`);
    this.names.add(name);
    this.entries++;
    if (name.split('/').pop()?.startsWith('.wh.')) this.whiteouts++;
  }

  has(name: string): boolean {
    return this.names.has(name) || this.names.has(name + '/');
  }

  private add(header: Partial<Header> & Pick<Header, 'name'>, body?: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body) this.pack.entry(header, body, cb);
      else this.pack.entry(header, cb);
    });
  }

  async dir(name: string, mode = 0o755): Promise<void> {
    const n = name.endsWith('/') ? name : name + '/';
    if (this.names.has(n)) return;
    this.claim(n);
    await this.add({ name: n, type: 'directory', mode, mtime: MTIME, uid: 0, gid: 0 });
  }

  async file(name: string, data: Buffer, mode = 0o644): Promise<void> {
    this.claim(name);
    this.fileBytes += data.length;
    await this.add({ name, type: 'file', mode, size: data.length, mtime: MTIME, uid: 0, gid: 0 }, data);
  }

  /** A file whose content is produced in chunks, never held whole. */
  async streamFile(name: string, size: number, chunks: Iterable<Buffer>, mode = 0o644): Promise<void> {
    this.claim(name);
    this.fileBytes += size;
    let sink!: Sink;
    const done = new Promise<void>((resolve, reject) => {
      sink = this.pack.entry({ name, type: 'file', mode, size, mtime: MTIME, uid: 0, gid: 0 }, (err) => (err ? reject(err) : resolve()));
    });
    for (const chunk of chunks) {
      if (!sink.write(chunk)) await new Promise<void>((r) => sink.once('drain', () => r()));
    }
    sink.end(undefined); // streamx's typings want an argument; undefined writes nothing
    await done;
  }

  async symlink(name: string, target: string): Promise<void> {
    this.claim(name);
    await this.add({ name, type: 'symlink', linkname: target, mode: 0o777, mtime: MTIME, uid: 0, gid: 0 });
  }

  async hardlink(name: string, target: string): Promise<void> {
    this.claim(name);
    await this.add({ name, type: 'link', linkname: target, mode: 0o755, mtime: MTIME, uid: 0, gid: 0 });
  }

  /** `.wh.<base>` beside the deleted path (or `.wh..wh..opq` for an opaque dir). */
  async whiteout(path: string): Promise<void> {
    await this.file(path, Buffer.alloc(0));
  }
}

/**
 * Stream a layer: tar-stream pack → sha256 (diff ID) → gzip level 6 (Docker's default) → sha256
 * (blob digest) → file. Written to `dest.partial` and renamed so a crash leaves no valid-looking blob.
 */
export async function writeLayer(dest: string, produce: (w: LayerWriter) => Promise<void>, o: { signal?: AbortSignal } = {}): Promise<LayerStats> {
  const pack = tarPack();
  const w = new LayerWriter(pack);
  const diffTap = new HashTap();
  const blobTap = new HashTap();
  const tmp = `${dest}.partial`;
  const producing = (async () => {
    try {
      await produce(w);
      pack.finalize();
    } catch (e) {
      pack.destroy(e as Error);
      throw e;
    }
  })();
  try {
    await Promise.all([
      producing,
      pipeline(pack as unknown as AsyncIterable<Buffer>, diffTap, createGzip({ level: 6, memLevel: 8, strategy: zc.Z_DEFAULT_STRATEGY }), blobTap, createWriteStream(tmp), o.signal ? { signal: o.signal } : {}),
    ]);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await rename(tmp, dest);
  return {
    digest: `sha256:${blobTap.hash.digest('hex')}`,
    size: blobTap.bytes,
    diffId: `sha256:${diffTap.hash.digest('hex')}`,
    tarSize: diffTap.bytes,
    fileBytes: w.fileBytes,
    entries: w.entries,
    whiteouts: w.whiteouts,
  };
}
