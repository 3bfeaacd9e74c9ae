import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { isCode } from '../errors/index.js';
import { sha256 } from '../oci/index.js';
import { systemClock, type Clock } from '../util/index.js';
import { FsContentStore, refKey } from './fs-store.js';
import { storeBlob } from './store-blob.js';
import { chunks, contentStoreSuite, fixture } from './testsuite.js';

contentStoreSuite('FsContentStore', async ({ clock }) => {
  const root = await mkdtemp(join(tmpdir(), 'lading-content-'));
  return { store: new FsContentStore(root, { clock }), cleanup: () => rm(root, { recursive: true, force: true }) };
});

const data = fixture(5000, 5);
const digest = sha256(data);
const desc = { digest, size: data.length };

/** One chunk per turn of the event loop, as a network delivers them: the ingest writes each on its own. */
async function* spaced(parts: Buffer[]): AsyncGenerator<Buffer> {
  for (const p of parts) {
    yield p;
    await new Promise((r) => setImmediate(r));
  }
}

async function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'lading-content-'));
  try {
    await fn(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

// A child that imports the compiled store by absolute file URL (so it is a real second process).
const CHILD = `
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInterface } from 'node:readline';
const [dirUrl, root, mode, hex, digest] = process.argv.slice(2);
const { FsContentStore } = await import(dirUrl + 'fs-store.js');
const { storeBlob } = await import(dirUrl + 'store-blob.js');
const data = Buffer.from(hex, 'hex');
const desc = { digest, size: data.length };
const pieces = (b) => { const out = []; for (let i = 0; i < b.length; i += 1000) out.push(b.subarray(i, i + 1000)); return out; };
// One piece per turn of the event loop, as a network delivers them: each is a write of its own.
const spaced = async function* (b) { for (const p of pieces(b)) { yield p; await new Promise((r) => setImmediate(r)); } };
const store = new FsContentStore(root);
if (mode === 'hold') {
  const ing = await store.ingest(digest, desc);
  await pipeline(Readable.from(pieces(data)), ing.writable());
  process.stdout.write('locked\\n');
  for await (const line of createInterface({ input: process.stdin })) if (line === 'go') break;
  await ing.commit(desc);
  process.stdout.write('committed\\n');
  process.exit(0);
} else {
  await storeBlob(store, desc, async (off) => Readable.from(spaced(data.subarray(off))));
  process.stdout.write('stored\\n');
}
`;

async function startChild(root: string, mode: 'hold' | 'store', env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  const script = join(root, 'child.mjs');
  await writeFile(script, CHILD);
  const dirUrl = new URL('./', import.meta.url).href;
  const child = spawn(process.execPath, [script, dirUrl, root, mode, data.toString('hex'), digest], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, LADING_FAILPOINT: '', ...env },
  });
  return child;
}

function waitLine(child: ChildProcess, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (l) => {
      if (l === text) {
        rl.close();
        resolve();
      }
    });
    child.on('exit', (c, s) => reject(new Error(`child exited (${c ?? s}) before printing ${text}`)));
  });
}

async function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return { code, signal };
}

describe('FsContentStore on disk', () => {
  it('lays out blobs and ingests as documented', async () => {
    await withRoot(async (root) => {
      const store = new FsContentStore(root);
      const ing = await store.ingest('my-ref', desc);
      await pipeline(Readable.from(chunks(data)), ing.writable());
      const dir = join(root, 'ingest', refKey('my-ref'));
      assert.deepEqual((await readdir(dir)).sort(), ['data', 'expected', 'lock', 'ref', 'startedat', 'total']);
      assert.equal(await readFile(join(dir, 'ref'), 'utf8'), 'my-ref');
      assert.equal(await readFile(join(dir, 'total'), 'utf8'), '5000');
      assert.equal(await readFile(join(dir, 'expected'), 'utf8'), digest);
      assert.equal(JSON.parse(await readFile(join(dir, 'lock'), 'utf8')).pid, process.pid);
      const [st] = await collect(store.ingests());
      assert.equal(st?.lockedBy?.pid, process.pid);
      await ing.commit();
      const blob = join(root, 'blobs', 'sha256', digest.slice('sha256:'.length));
      assert.equal(store.path(digest), blob);
      assert.equal((await stat(blob)).mode & 0o777, 0o444);
      assert.deepEqual(await readFile(blob), data);
      assert.deepEqual(await readdir(join(root, 'ingest')), []);
      assert.throws(() => store.path('sha256:../../etc/passwd' as never), (e: unknown) => isCode(e, 'INVALID_ARGUMENT'));
    });
  });

  it('a failpoint error after the first chunk leaves a partial that storeBlob resumes', async () => {
    await withRoot(async (root) => {
      const store = new FsContentStore(root);
      const before = process.env['LADING_FAILPOINT'];
      process.env['LADING_FAILPOINT'] = 'content.write.mid:error';
      try {
        await assert.rejects(
          storeBlob(store, desc, async () => Readable.from(spaced(chunks(data)))),
          (e: unknown) => isCode(e, 'INTERNAL') && (e as { detail?: unknown }).detail !== undefined,
        );
      } finally {
        if (before === undefined) delete process.env['LADING_FAILPOINT'];
        else process.env['LADING_FAILPOINT'] = before;
      }
      assert.deepEqual((await collect(store.ingests())).map((s) => s.offset), [1000]);
      const offsets: number[] = [];
      const r = await storeBlob(store, desc, async (o) => {
        offsets.push(o);
        return Readable.from(chunks(data.subarray(o)));
      });
      assert.deepEqual(offsets, [1000]);
      assert.deepEqual(r, { fetched: 4000, existed: false });
      assert.deepEqual(await store.readAll(digest, { maxBytes: 5000 }), data);
    });
  });

  it('writes held for the rest of a turn go out whole, whether ended or destroyed in that turn', async () => {
    await withRoot(async (root) => {
      const store = new FsContentStore(root);
      const ing = await store.ingest('batch', desc);
      const w = ing.writable();
      w.write(data.subarray(0, 1000));
      w.write(data.subarray(1000, 3000));
      w.end(data.subarray(3000));
      await finished(w);
      assert.equal(ing.offset, data.length);
      assert.deepEqual(await ing.commit(), { digest, size: data.length });

      const other = await store.ingest('dropped', desc);
      const w2 = other.writable();
      w2.write(data.subarray(0, 1000));
      w2.destroy(); // before the held write went out: nothing is written, nothing breaks
      await new Promise((r) => setImmediate(r));
      await other.close();
      assert.deepEqual((await collect(store.ingests())).map((st) => [st.ref, st.offset]), [['dropped', 0]]);
    });
  });

  it('a blob spanning several background flushes commits intact', async () => {
    await withRoot(async (root) => {
      const store = new FsContentStore(root);
      const big = fixture(9 * 1024 * 1024 + 123, 4);
      const d = { digest: sha256(big), size: big.length };
      assert.deepEqual(await storeBlob(store, d, async () => Readable.from(chunks(big, 64 * 1024))), { fetched: big.length, existed: false });
      assert.deepEqual(await readFile(store.path(d.digest)), big);
      assert.deepEqual(await collect(store.ingests()), []);
    });
  });

  it('a failed background flush refuses the commit and keeps the partial for a resume', async () => {
    await withRoot(async (root) => {
      const store = new FsContentStore(root);
      const big = fixture(9 * 1024 * 1024, 5);
      const d = { digest: sha256(big), size: big.length };
      const before = process.env['LADING_FAILPOINT'];
      process.env['LADING_FAILPOINT'] = 'content.writeback:error';
      try {
        await assert.rejects(
          storeBlob(store, d, async () => Readable.from(chunks(big, 64 * 1024))),
          (e: unknown) => isCode(e, 'INTERNAL'),
        );
      } finally {
        if (before === undefined) delete process.env['LADING_FAILPOINT'];
        else process.env['LADING_FAILPOINT'] = before;
      }
      assert.equal(await store.info(d.digest), undefined);
      const [st] = await collect(store.ingests());
      // At least the first flush step was written before its failure was seen.
      assert.ok(st && st.offset >= 4 * 1024 * 1024 && st.offset <= big.length && st.lockedBy === undefined, JSON.stringify(st));
      const r = await storeBlob(store, d, async (o) => Readable.from(chunks(big.subarray(o), 64 * 1024)));
      assert.deepEqual(r, { fetched: big.length - st.offset, existed: false });
      assert.deepEqual(await readFile(store.path(d.digest)), big);
    });
  });

  it('two stores on one root in one process: the second waits, then finds the blob', async () => {
    await withRoot(async (root) => {
      const a = new FsContentStore(root);
      const ing = await a.ingest(digest, desc);
      await pipeline(Readable.from(chunks(data)), ing.writable());
      let committed = false;
      const clock: Clock = {
        ...systemClock,
        sleep: async () => {
          if (!committed) await ing.commit();
          committed = true;
        },
      };
      const b = new FsContentStore(root, { clock });
      let opens = 0;
      const r = await storeBlob(b, desc, async () => {
        opens++;
        return Readable.from([data]);
      });
      assert.deepEqual(r, { fetched: 0, existed: true });
      assert.equal(opens, 0);
    });
  });

  it('waits for another process holding the ingest, then sees the blob committed', async () => {
    await withRoot(async (root) => {
      const child = await startChild(root, 'hold');
      await waitLine(child, 'locked');
      const store = new FsContentStore(root, {
        clock: {
          ...systemClock,
          sleep: async (ms, signal) => {
            // We are now provably waiting on the child's lock: let it commit.
            child.stdin!.write('go\n');
            await systemClock.sleep(Math.min(ms, 50), signal);
          },
        },
      });
      const [st] = await collect(store.ingests());
      assert.equal(st?.lockedBy?.pid, child.pid);
      assert.equal(st?.offset, data.length);
      let opens = 0;
      const r = await storeBlob(store, desc, async () => {
        opens++;
        return Readable.from([data]);
      });
      assert.deepEqual(r, { fetched: 0, existed: true });
      assert.equal(opens, 0);
      assert.deepEqual(await exited(child), { code: 0, signal: null });
      assert.deepEqual(await store.readAll(digest, { maxBytes: 5000 }), data);
      assert.deepEqual(await collect(store.ingests()), []);
    });
  });

  it('a crash before the rename leaves nothing visible and the next storeBlob completes', async () => {
    await withRoot(async (root) => {
      const child = await startChild(root, 'store', { LADING_FAILPOINT: 'content.commit.before-rename:crash' });
      assert.deepEqual(await exited(child), { code: null, signal: 'SIGKILL' });
      const store = new FsContentStore(root);
      assert.equal(await store.info(digest), undefined);
      assert.deepEqual(await collect(store.walk()), []);
      const st = await collect(store.ingests());
      assert.deepEqual(st.map((s) => [s.ref, s.offset, s.lockedBy?.pid]), [[digest, 5000, child.pid]]);
      let opens = 0;
      const r = await storeBlob(store, desc, async () => {
        opens++;
        return Readable.from([]);
      });
      // Every byte was already in the ingest: the stale lock is taken over and it commits as is.
      assert.deepEqual(r, { fetched: 0, existed: false });
      assert.equal(opens, 0);
      assert.deepEqual(await store.readAll(digest, { maxBytes: 5000 }), data);
      assert.deepEqual(await collect(store.ingests()), []);
    });
  });

  it('a crash mid-write is resumed from the bytes on disk', async () => {
    await withRoot(async (root) => {
      const child = await startChild(root, 'store', { LADING_FAILPOINT: 'content.write.mid:crash' });
      assert.deepEqual(await exited(child), { code: null, signal: 'SIGKILL' });
      const store = new FsContentStore(root);
      assert.equal(await store.info(digest), undefined);
      const offsets: number[] = [];
      const r = await storeBlob(store, desc, async (o) => {
        offsets.push(o);
        return Readable.from(chunks(data.subarray(o)));
      });
      assert.deepEqual(offsets, [1000]);
      assert.deepEqual(r, { fetched: 4000, existed: false });
      assert.deepEqual(await store.readAll(digest, { maxBytes: 5000 }), data);
    });
  });

  it('takes over a stale lock: dead pid, torn file, reused pid', async () => {
    await withRoot(async (root) => {
      const dead = spawn(process.execPath, ['-e', '']);
      await exited(dead);
      const store = new FsContentStore(root);
      const ing = await store.ingest('stale', desc);
      await pipeline(Readable.from(chunks(data.subarray(0, 2000))), ing.writable());
      await ing.close();
      const lock = join(root, 'ingest', refKey('stale'), 'lock');
      await writeFile(lock, JSON.stringify({ pid: dead.pid, startedAt: 1, token: 'dead', proc: 1 }));
      const [st] = await collect(store.ingests());
      assert.equal(st?.lockedBy?.pid, dead.pid);
      const again = await store.ingest('stale', desc, { timeoutMs: 0 });
      assert.equal(again.offset, 2000);
      assert.equal(JSON.parse(await readFile(lock, 'utf8')).pid, process.pid);
      await again.close();
      // An unreadable lock (a torn write) is stale too.
      await writeFile(lock, '{"pid":');
      const third = await store.ingest('stale', desc, { timeoutMs: 0 });
      assert.equal(third.offset, 2000);
      await third.close();
      // Our own pid, but an earlier process's start time: the pid was reused (Linux /proc).
      await writeFile(lock, JSON.stringify({ pid: process.pid, startedAt: 1, token: 'reused', proc: 1 }));
      const fourth = await store.ingest('stale', desc, { timeoutMs: 0 });
      assert.equal(fourth.offset, 2000);
      await fourth.abort();
    });
  });

  it('cleanupIngests also clears ingest directories left half-removed', async () => {
    await withRoot(async (root) => {
      const store = new FsContentStore(root);
      await store.init();
      await writeFile(join(root, 'ingest', '.trash-0123'), 'x');
      assert.equal(await store.cleanupIngests({ olderThanMs: 0 }), 0);
      assert.deepEqual(await readdir(join(root, 'ingest')), []);
    });
  });
});
