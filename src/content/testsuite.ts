import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as tick } from 'node:timers/promises';
import { isCode } from '../errors/index.js';
import { sha256, type Digest } from '../oci/index.js';
import type { Clock } from '../util/index.js';
import { storeBlob } from './store-blob.js';
import type { ContentStore, Ingest, IngestStatus } from './types.js';

/**
 * Conformance suite every ContentStore runs (containerd core/content/testsuite): the lifecycle,
 * verification, resume, ranged reads, in-process sharing, locking within one process, cleanup.
 * Cross-process and crash behaviour is backend specific and tested beside each backend.
 */
export interface ContentStoreHarness {
  store: ContentStore;
  cleanup(): Promise<void>;
}

/** A clock whose sleeps return at once, advance time, and can run a hook (no real waiting). */
export class SuiteClock implements Clock {
  t = Date.now();
  sleeps = 0;
  onSleep: (() => void | Promise<void>) | undefined;
  now(): number {
    return this.t;
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.sleeps++;
    this.t += ms;
    const h = this.onSleep;
    this.onSleep = undefined;
    await h?.();
    await tick();
  }
  random(): number {
    return 0.5;
  }
}

/** Deterministic fixture bytes. */
export function fixture(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}

export function chunks(b: Buffer, size = 1000): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}

async function write(ing: Ingest, b: Buffer): Promise<void> {
  await pipeline(Readable.from(chunks(b)), ing.writable());
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function readStream(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function pollUntil(what: string, cond: () => Promise<boolean>, limit = 5000): Promise<void> {
  for (let i = 0; i < limit; i++) {
    if (await cond()) return;
    await tick();
  }
  assert.fail(`timed out waiting for ${what}`);
}

const code = (c: string) => (e: unknown) => isCode(e, c as never);

export function contentStoreSuite(name: string, make: (o: { clock: Clock }) => Promise<ContentStoreHarness>): void {
  const test = (title: string, fn: (store: ContentStore, clock: SuiteClock) => Promise<void>) =>
    it(title, async () => {
      const clock = new SuiteClock();
      const h = await make({ clock });
      try {
        await fn(h.store, clock);
      } finally {
        await h.cleanup();
      }
    });

  const data = fixture(5000);
  const digest = sha256(data);
  const desc = { digest, size: data.length };

  describe(`${name}: content store conformance`, () => {
    test('writes, commits and reads a blob', async (store, clock) => {
      assert.equal(await store.info(digest), undefined);
      const ing = await store.ingest('w1', desc);
      assert.equal(ing.ref, 'w1');
      assert.equal(ing.offset, 0);
      await write(ing, data);
      assert.equal(ing.offset, data.length);
      const c = await ing.commit();
      assert.deepEqual(c, { digest, size: data.length });
      const info = await store.info(digest);
      if (!info) assert.fail('no info after commit');
      assert.equal(info.digest, digest);
      assert.equal(info.size, data.length);
      assert.ok(Math.abs(info.createdAt.getTime() - clock.now()) < 1000);
      assert.deepEqual(await store.readAll(digest, { maxBytes: 1 << 20 }), data);
      assert.deepEqual(await readStream(await store.open(digest)), data);
      assert.deepEqual(await collect(store.ingests()), []);
      assert.deepEqual(
        (await collect(store.walk())).map((b) => [b.digest, b.size]),
        [[digest, data.length]],
      );
      assert.equal(typeof store.path(digest), 'string');
      await ing.close(); // a no-op after commit
    });

    test('commit without an expectation names the blob by its hash', async (store) => {
      const ing = await store.ingest('anon');
      await write(ing, data.subarray(0, 100));
      const c = await ing.commit();
      assert.deepEqual(c, { digest: sha256(data.subarray(0, 100)), size: 100 });
      assert.deepEqual(await store.readAll(c.digest, { maxBytes: 100 }), data.subarray(0, 100));
    });

    test('an empty blob commits', async (store) => {
      const empty = sha256(Buffer.alloc(0));
      const ing = await store.ingest('empty', { digest: empty, size: 0 });
      const c = await ing.commit();
      assert.deepEqual(c, { digest: empty, size: 0 });
      assert.deepEqual(await store.readAll(empty, { maxBytes: 10 }), Buffer.alloc(0));
    });

    test('refuses a digest mismatch and makes nothing visible', async (store) => {
      const other = sha256('something else');
      const ing = await store.ingest('bad', { digest: other });
      await write(ing, data);
      await assert.rejects(ing.commit(), (e: unknown) => {
        assert.ok(isCode(e, 'DIGEST_MISMATCH'));
        assert.deepEqual((e as { detail?: unknown }).detail, { expected: other, found: digest });
        assert.equal((e as Error).message, `digest mismatch: expected ${other}, got ${digest}`);
        return true;
      });
      assert.equal(await store.info(other), undefined);
      assert.equal(await store.info(digest), undefined);
      assert.deepEqual(await collect(store.walk()), []);
      assert.deepEqual(await collect(store.ingests()), []);
    });

    test('refuses a size mismatch at commit and discards the ingest', async (store) => {
      const ing = await store.ingest('short');
      await write(ing, data);
      await assert.rejects(ing.commit({ digest, size: data.length + 1 }), (e: unknown) => {
        assert.ok(isCode(e, 'SIZE_MISMATCH'));
        assert.deepEqual((e as { detail?: unknown }).detail, { expected: data.length + 1, found: data.length });
        return true;
      });
      assert.equal(await store.info(digest), undefined);
      assert.deepEqual(await collect(store.ingests()), []);
    });

    test('writing past the expected size fails before the end of the stream', async (store) => {
      const ing = await store.ingest('long', { size: 1500 });
      await assert.rejects(write(ing, data), code('SIZE_MISMATCH'));
      await ing.abort();
      assert.deepEqual(await collect(store.ingests()), []);
    });

    test('an existing blob is success', async (store) => {
      const a = await store.ingest('a', desc);
      await write(a, data);
      await a.commit();
      const b = await store.ingest('b', desc);
      await write(b, data);
      assert.deepEqual(await b.commit(), { digest, size: data.length });
      assert.deepEqual(await store.readAll(digest, { maxBytes: 1 << 20 }), data);
      assert.deepEqual(await collect(store.ingests()), []);
      let opens = 0;
      const r = await storeBlob(store, desc, async () => {
        opens++;
        return Readable.from([data]);
      });
      assert.deepEqual(r, { fetched: 0, existed: true });
      assert.equal(opens, 0);
    });

    test('close keeps partial data and the next ingest resumes it', async (store) => {
      const ing = await store.ingest('resume', desc);
      await write(ing, data.subarray(0, 2000));
      await ing.close();
      const st = await collect(store.ingests());
      assert.equal(st.length, 1);
      const s = st[0] as IngestStatus;
      assert.equal(s.ref, 'resume');
      assert.equal(s.offset, 2000);
      assert.equal(s.total, data.length);
      assert.equal(s.expected, digest);
      assert.equal(s.lockedBy, undefined);
      assert.equal(await store.info(digest), undefined);
      const again = await store.ingest('resume', desc);
      assert.equal(again.offset, 2000);
      await write(again, data.subarray(2000));
      assert.deepEqual(await again.commit(), { digest, size: data.length });
      assert.deepEqual(await store.readAll(digest, { maxBytes: 1 << 20 }), data);
    });

    test('an expectation contradicting the kept partial starts over', async (store) => {
      const ing = await store.ingest('changed', { digest: sha256('x') });
      await write(ing, data.subarray(0, 10));
      await ing.close();
      const again = await store.ingest('changed', desc);
      assert.equal(again.offset, 0);
      await again.abort();
    });

    test('abort discards the data', async (store) => {
      const ing = await store.ingest('gone', desc);
      await write(ing, data.subarray(0, 3000));
      await ing.abort();
      assert.deepEqual(await collect(store.ingests()), []);
      const again = await store.ingest('gone', desc);
      assert.equal(again.offset, 0);
      await again.abort();
    });

    test('storeBlob resumes at the ingest offset and fetches only the rest', async (store) => {
      const ing = await store.ingest(digest, desc);
      await write(ing, data.subarray(0, 3000));
      await ing.close();
      const offsets: number[] = [];
      const progress: Array<[number, number]> = [];
      const r = await storeBlob(
        store,
        desc,
        async (offset) => {
          offsets.push(offset);
          return Readable.from(chunks(data.subarray(offset)));
        },
        { onProgress: (n, t) => progress.push([n, t]) },
      );
      assert.deepEqual(offsets, [3000]);
      assert.deepEqual(r, { fetched: 2000, existed: false });
      assert.deepEqual(progress[0], [3000, 5000]);
      assert.deepEqual(progress.at(-1), [5000, 5000]);
      assert.deepEqual(await store.readAll(digest, { maxBytes: 1 << 20 }), data);
      assert.deepEqual(await collect(store.ingests()), []);
    });

    test('storeBlob copes with a source that ignores the offset', async (store) => {
      const ing = await store.ingest(digest, desc);
      await write(ing, data.subarray(0, 2500));
      await ing.close();
      const r = await storeBlob(store, desc, async () => ({ stream: Readable.from(chunks(data, 700)), offset: 0 }));
      assert.deepEqual(r, { fetched: data.length, existed: false });
      assert.deepEqual(await store.readAll(digest, { maxBytes: 1 << 20 }), data);
    });

    test('storeBlob retries from zero once when a resumed partial is corrupt', async (store) => {
      const ing = await store.ingest(digest, desc);
      await write(ing, fixture(2000, 9)); // not the blob's bytes
      await ing.close();
      const offsets: number[] = [];
      const r = await storeBlob(store, desc, async (offset) => {
        offsets.push(offset);
        return Readable.from(chunks(data.subarray(offset)));
      });
      assert.deepEqual(offsets, [2000, 0]);
      assert.deepEqual(r, { fetched: 3000 + 5000, existed: false });
      assert.deepEqual(await store.readAll(digest, { maxBytes: 1 << 20 }), data);
    });

    test('storeBlob refuses bad content and keeps nothing', async (store) => {
      const wrong = fixture(5000, 2);
      await assert.rejects(
        storeBlob(store, desc, async () => Readable.from(chunks(wrong))),
        (e: unknown) => isCode(e, 'DIGEST_MISMATCH') && (e as { detail?: { found?: Digest } }).detail?.found === sha256(wrong),
      );
      await assert.rejects(
        storeBlob(store, desc, async () => Readable.from(chunks(Buffer.concat([data, data])))),
        code('SIZE_MISMATCH'),
      );
      assert.equal(await store.info(digest), undefined);
      assert.deepEqual(await collect(store.ingests()), []);
    });

    test('storeBlob keeps the partial when the source ends early', async (store) => {
      await assert.rejects(
        storeBlob(store, desc, async () => Readable.from(chunks(data.subarray(0, 1000)))),
        (e: unknown) => isCode(e, 'UNAVAILABLE') && (e as Error).message === `unexpected end of ${digest} after 1000 of 5000 bytes`,
      );
      const st = await collect(store.ingests());
      assert.deepEqual(st.map((s) => [s.ref, s.offset]), [[digest, 1000]]);
    });

    test('concurrent storeBlob calls for one digest share one download', async (store) => {
      const src = new PassThrough();
      const opens: number[] = [];
      const open = async (offset: number) => {
        opens.push(offset);
        return src;
      };
      const seen: number[][] = [[], []];
      const p1 = storeBlob(store, desc, open, { onProgress: (n) => seen[0]!.push(n) });
      const p2 = storeBlob(store, desc, open, { onProgress: (n) => seen[1]!.push(n) });
      await pollUntil('open()', async () => opens.length > 0);
      for (const c of chunks(data)) src.write(c);
      src.end();
      const [r1, r2] = await Promise.all([p1, p2]);
      assert.deepEqual(opens, [0]);
      assert.deepEqual(r1, { fetched: data.length, existed: false });
      assert.deepEqual(r2, r1);
      assert.equal(seen[0]!.at(-1), data.length);
      assert.equal(seen[1]!.at(-1), data.length);
      assert.deepEqual(await store.readAll(digest, { maxBytes: 1 << 20 }), data);
    });

    test('a cancelled storeBlob keeps the partial for a resume', async (store) => {
      const ac = new AbortController();
      const src = new PassThrough();
      const p = storeBlob(store, desc, async () => src, { signal: ac.signal });
      src.write(data.subarray(0, 2000));
      await pollUntil('2000 bytes ingested', async () => (await collect(store.ingests()))[0]?.offset === 2000);
      ac.abort();
      await assert.rejects(p, code('CANCELED'));
      const st = await collect(store.ingests());
      assert.deepEqual(st.map((s) => [s.offset, s.lockedBy]), [[2000, undefined]]);
      const offsets: number[] = [];
      const r = await storeBlob(store, desc, async (o) => {
        offsets.push(o);
        return Readable.from([data.subarray(o)]);
      });
      assert.deepEqual(offsets, [2000]);
      assert.deepEqual(r, { fetched: 3000, existed: false });
    });

    test('one caller cancelling does not cancel a shared download', async (store) => {
      const ac = new AbortController();
      const src = new PassThrough();
      let opens = 0;
      const open = async () => {
        opens++;
        return src;
      };
      const p1 = storeBlob(store, desc, open, { signal: ac.signal });
      const p2 = storeBlob(store, desc, open);
      await pollUntil('open()', async () => opens > 0);
      ac.abort();
      await assert.rejects(p1, code('CANCELED'));
      src.end(data);
      assert.deepEqual(await p2, { fetched: data.length, existed: false });
      assert.equal(opens, 1);
    });

    test('ranged reads', async (store) => {
      const ing = await store.ingest('r', desc);
      await write(ing, data);
      await ing.commit();
      const read = async (o: { start?: number; end?: number }) => readStream(await store.open(digest, o));
      assert.deepEqual(await read({ start: 3, end: 10 }), data.subarray(3, 10));
      assert.deepEqual(await read({ start: 4321 }), data.subarray(4321));
      assert.deepEqual(await read({ end: 4 }), data.subarray(0, 4));
      assert.deepEqual(await read({ start: 100, end: 999_999 }), data.subarray(100));
      assert.deepEqual(await read({ start: data.length }), Buffer.alloc(0));
      await assert.rejects(store.open(digest, { start: data.length + 1 }), code('INVALID_ARGUMENT'));
      await assert.rejects(store.open(digest, { start: 10, end: 5 }), code('INVALID_ARGUMENT'));
      const missing = sha256('missing');
      await assert.rejects(store.open(missing), (e: unknown) => isCode(e, 'NOT_FOUND') && (e as Error).message === `content digest ${missing}: not found`);
      await assert.rejects(store.readAll(digest, { maxBytes: 4999 }), code('INVALID_ARGUMENT'));
    });

    test('delete removes a blob; NOT_FOUND when absent', async (store) => {
      const small = [fixture(10, 3), fixture(20, 4)];
      for (const [i, b] of small.entries()) {
        const ing = await store.ingest(`d${i}`);
        await write(ing, b);
        await ing.commit();
      }
      const all = (await collect(store.walk())).map((b) => b.digest).sort();
      assert.deepEqual(all, small.map((b) => sha256(b)).sort());
      await store.delete(sha256(small[0]!));
      assert.equal(await store.info(sha256(small[0]!)), undefined);
      assert.deepEqual((await collect(store.walk())).map((b) => b.digest), [sha256(small[1]!)]);
      await assert.rejects(store.delete(sha256(small[0]!)), code('NOT_FOUND'));
    });

    test('a second ingest of a held ref waits for the holder', async (store, clock) => {
      const first = await store.ingest('held', desc);
      await write(first, data.subarray(0, 1234));
      clock.onSleep = () => first.close();
      const second = await store.ingest('held', desc);
      assert.ok(clock.sleeps >= 1);
      assert.equal(second.offset, 1234);
      await second.abort();
    });

    test('a held ref times out with UNAVAILABLE', async (store) => {
      const first = await store.ingest('busy');
      await assert.rejects(store.ingest('busy', {}, { timeoutMs: 10_000 }), code('UNAVAILABLE'));
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(store.ingest('busy', {}, { signal: ac.signal }), code('CANCELED'));
      await first.abort();
    });

    test('cleanupIngests removes stale unheld ingests only', async (store, clock) => {
      const old = await store.ingest('old');
      await write(old, data.subarray(0, 100));
      await old.close();
      const held = await store.ingest('held');
      await write(held, data.subarray(0, 100));
      assert.equal(await store.cleanupIngests({ olderThanMs: 60_000 }), 0);
      assert.equal((await collect(store.ingests())).length, 2);
      clock.t += 2 * 3600_000;
      assert.equal(await store.cleanupIngests({ olderThanMs: 60_000 }), 1);
      assert.deepEqual((await collect(store.ingests())).map((s) => s.ref), ['held']);
      await held.close();
      assert.equal(await store.cleanupIngests({ olderThanMs: 60_000 }), 1);
      assert.deepEqual(await collect(store.ingests()), []);
    });
  });
}
