import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { compress as zstdCompress } from 'zstd-napi';
import { isCode } from '../errors/index.js';
import { autoDecompress, compressStream, decompressStream, detectCompression, type Compression } from './index.js';

async function collect(src: Buffer | Buffer[], ...stages: NodeJS.ReadWriteStream[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(Array.isArray(src) ? src : [src]),
    ...(stages as [NodeJS.ReadWriteStream]),
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

/** Deterministic, partly compressible payload. */
const payload = Buffer.concat(Array.from({ length: 64 }, (_, i) => Buffer.from(`line ${i} ${'x'.repeat(i)}\n`.repeat(40))));

describe('compression', () => {
  it('detects gzip, zstd and none from magic numbers', () => {
    assert.equal(detectCompression(Buffer.from([0x1f, 0x8b, 0x08, 0x00])), 'gzip');
    assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
    assert.equal(detectCompression(Buffer.from('ustar')), 'none');
    assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f])), 'none'); // too short for zstd
    assert.equal(detectCompression(Buffer.alloc(0)), 'none');
    assert.equal(detectCompression(gzipSync(payload)), 'gzip');
    assert.equal(detectCompression(zstdCompress(payload)), 'zstd');
  });

  for (const kind of ['gzip', 'zstd', 'none'] as Compression[]) {
    it(`round-trips ${kind} through compressStream/decompressStream and autoDecompress`, async () => {
      const packed = await collect(payload, compressStream(kind, { level: kind === 'zstd' ? 19 : kind === 'gzip' ? 9 : undefined }));
      assert.equal(detectCompression(packed), kind);
      if (kind !== 'none') assert.ok(packed.length < payload.length / 4);
      assert.deepEqual(await collect(packed, decompressStream(kind)), payload);
      // one byte at a time: the sniffer must wait for the whole magic number
      const bytes = [...packed.subarray(0, 8)].map((b) => Buffer.from([b]));
      const auto = autoDecompress();
      assert.deepEqual(await collect([...bytes, packed.subarray(8)], auto), payload);
      assert.equal(auto.compression, kind);
    });
  }

  it('autoDecompress passes through empty and tiny inputs', async () => {
    assert.deepEqual(await collect(Buffer.alloc(0), autoDecompress()), Buffer.alloc(0));
    assert.deepEqual(await collect(Buffer.from('ab'), autoDecompress()), Buffer.from('ab'));
  });

  it('autoDecompress keeps memory bounded: large random data streams through', async () => {
    const big = randomBytes(8 << 20);
    const gz = gzipSync(big, { level: 1 });
    const h = createHash('sha256');
    await pipeline(
      Readable.from([gz]),
      autoDecompress(),
      new Writable({
        highWaterMark: 1024,
        write(c: Buffer, _e, cb) {
          h.update(c);
          setImmediate(cb);
        },
      }),
    );
    assert.equal(h.digest('hex'), createHash('sha256').update(big).digest('hex'));
  });

  it('fails on corrupt gzip and zstd data with INVALID_ARGUMENT', async () => {
    const gz = Buffer.from(gzipSync(payload));
    gz.fill(0x55, 20, 60);
    await assert.rejects(collect(gz, autoDecompress()), (e) => isCode(e, 'INVALID_ARGUMENT') && /^invalid gzip data: /.test((e as Error).message));
    const zs = Buffer.from(zstdCompress(payload));
    zs.fill(0x55, 8, 40);
    await assert.rejects(collect(zs, autoDecompress()), (e) => isCode(e, 'INVALID_ARGUMENT') && /^invalid zstd data: /.test((e as Error).message));
  });

  it('fails on truncated gzip and zstd streams', async () => {
    const gz = gzipSync(payload);
    await assert.rejects(collect(gz.subarray(0, gz.length - 10), autoDecompress()), (e) => isCode(e, 'INVALID_ARGUMENT'));
    const zs = zstdCompress(payload);
    await assert.rejects(collect(zs.subarray(0, zs.length - 10), autoDecompress()), (e) => isCode(e, 'INVALID_ARGUMENT'));
  });

  it('rejects invalid levels', () => {
    assert.throws(() => compressStream('gzip', { level: 10 }), (e) => isCode(e, 'INVALID_ARGUMENT'));
    assert.throws(() => compressStream('zstd', { level: 0 }), (e) => isCode(e, 'INVALID_ARGUMENT'));
  });
});
