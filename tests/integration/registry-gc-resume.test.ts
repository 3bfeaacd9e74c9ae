// Crash safety and garbage collection of lading's registry: an upload cut off by a killed server
// resumes after a restart; the collector (offline CLI and online while pushes run) removes only
// what nothing references.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtemp, readdir, rm, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { main } from '../../src/cli/index.js';
import { sha256, type Digest } from '../../src/oci/index.js';
import { buildImage, captureIo, file, pushFixture, spawnLadingRegistry, startLadingRegistry, tarLayer, type FixtureImage } from '../../src/testing/index.js';
import { randomBytes } from 'node:crypto';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'lading-reggc-'));
});
after(() => rm(work, { recursive: true, force: true }));

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const blobPath = (root: string, d: string) => join(root, 'blobs', 'sha256', d.slice(7, 9), d.slice(7));
const exists = (p: string) => stat(p).then(() => true, () => false);

/** Make a blob look last referenced long ago. */
async function age(root: string, d: string): Promise<void> {
  const past = new Date(Date.now() - 48 * 3600_000);
  await utimes(blobPath(root, d), past, past);
}

describe('an upload cut off by a crash', () => {
  test('resumes after a restart from the offset the server reports, and nothing partial is visible', async () => {
    const root = join(work, 'crash');
    const content = randomBytes(3 << 20);
    const d = sha256(content);
    const half = 1 << 20;
    let reg = await spawnLadingRegistry(root);
    try {
      const start = await request(`${reg.url}/v2/crash/app/blobs/uploads/`, { method: 'POST' });
      await start.body.dump();
      const location = String(start.headers.location);
      const id = location.split('/').pop()!;
      // A client sends the first megabyte of a streamed PATCH and stalls; the server dies.
      const sock = connect(Number(reg.host.split(':')[1]), '127.0.0.1');
      await new Promise<void>((r) => sock.once('connect', () => r()));
      sock.write(`PATCH ${location} HTTP/1.1\r\nHost: ${reg.host}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${content.length}\r\n\r\n`);
      sock.write(content.subarray(0, half));
      const data = join(root, 'uploads', id, 'data');
      await waitFor('the first megabyte on disk', async () => (await stat(data).catch(() => undefined))?.size === half);
      await reg.kill();
      sock.destroy();
      assert.equal(await exists(blobPath(root, d)), false, 'no blob after the crash');

      reg = await spawnLadingRegistry(root);
      const status = await request(`${reg.url}${location}`);
      await status.body.dump();
      assert.equal(status.statusCode, 204);
      assert.equal(status.headers.range, `0-${half - 1}`);
      const rest = await request(`${reg.url}${location}`, {
        method: 'PATCH',
        headers: { 'content-range': `${half}-${content.length - 1}`, 'content-type': 'application/octet-stream' },
        body: content.subarray(half),
      });
      await rest.body.dump();
      assert.equal(rest.statusCode, 202);
      const fin = await request(`${reg.url}${location}?digest=${d}`, { method: 'PUT' });
      await fin.body.dump();
      assert.equal(fin.statusCode, 201);
      const got = await request(`${reg.url}/v2/crash/app/blobs/${d}`);
      assert.equal(sha256(Buffer.from(await got.body.arrayBuffer())), d);
    } finally {
      await reg.kill();
    }
    assert.match(reg.output(), /"route":"upload"/, 'the request log has one line per request');
  });

  test('SIGTERM lets an in-flight request finish before the server exits', async () => {
    const root = join(work, 'graceful');
    const reg = await spawnLadingRegistry(root);
    const start = await request(`${reg.url}/v2/g/app/blobs/uploads/`, { method: 'POST' });
    await start.body.dump();
    const location = String(start.headers.location);
    const content = randomBytes(1 << 20);
    // A slow body: the first half now, the rest after the shutdown has begun.
    const { PassThrough } = await import('node:stream');
    const body = new PassThrough();
    const put = request(`${reg.url}${location}?digest=${sha256(content)}`, { method: 'PUT', body, headers: { 'content-length': String(content.length) } });
    body.write(content.subarray(0, 1000));
    const data = join(root, 'uploads', location.split('/').pop()!, 'data');
    await waitFor('the upload to start', async () => ((await stat(data).catch(() => undefined))?.size ?? 0) > 0);
    const exited = reg.stop();
    await new Promise((r) => setTimeout(r, 100));
    body.end(content.subarray(1000));
    const res = await put;
    await res.body.dump();
    assert.equal(res.statusCode, 201);
    assert.equal(await exited, 0);
    assert.match(reg.output(), /registry shutting down/);
  });
});

describe('garbage collection', () => {
  let img1: FixtureImage;
  let img2: FixtureImage;
  before(async () => {
    const shared = await tarLayer([file('shared.txt', 'shared')]);
    img1 = buildImage({ layers: [shared, await tarLayer([file('one.txt', 'one')])] });
    img2 = buildImage({ layers: [shared, await tarLayer([file('two.txt', 'two')])], created: '2024-05-05T00:00:00Z' });
  });

  test('lading registry gc: dry run first, then only unreferenced blobs past the grace period go', async () => {
    const reg = await startLadingRegistry({ keepRoot: true });
    const root = reg.root;
    try {
      await pushFixture(reg.url, 'gc/app', img1, '1');
      await pushFixture(reg.url, 'gc/app', img2, '2');
      await pushFixture(reg.url, 'gc/other', img2, 'x');
      const del = await request(`${reg.url}/v2/gc/app/manifests/${img1.manifest.descriptor.digest}`, { method: 'DELETE' });
      await del.body.dump();
      assert.equal(del.statusCode, 202);
      const upload = await request(`${reg.url}/v2/gc/app/blobs/uploads/`, { method: 'POST' });
      await upload.body.dump();
      const onlyImg1: string[] = [img1.manifest.descriptor.digest, img1.config.descriptor.digest, img1.layers[1]!.descriptor.digest];
      const allDigests = new Set<string>([...img1.blobs, ...img2.blobs, img1.manifest, img2.manifest].map((b) => b.descriptor.digest));
      for (const d of allDigests) await age(root, d);
      const env = { ...process.env, LADING_ROOT: join(work, 'unused') };

      const dry = captureIo({ env });
      assert.equal(await main(['registry', 'gc', '--root', root, '--dry-run'], dry), 0, dry.err());
      for (const d of onlyImg1) assert.match(dry.out(), new RegExp(`would delete ${d}`));
      assert.match(dry.out(), /3 blobs would be deleted/);
      for (const d of allDigests) assert.equal(await exists(blobPath(root, d)), true, 'a dry run deletes nothing');

      const real = captureIo({ env });
      assert.equal(await main(['registry', 'gc', '--root', root], real), 0, real.err());
      assert.match(real.out(), /^2 repositories, 2 manifests, 4 blobs referenced$/m);
      assert.match(real.out(), /3 blobs deleted/);
      for (const d of allDigests) assert.equal(await exists(blobPath(root, d)), !onlyImg1.includes(d), d);
      assert.equal((await readdir(join(root, 'uploads'))).length, 1, 'an upload in progress is never collected');
      // The image left is whole.
      for (const b of img2.blobs) {
        const r = await request(`${reg.url}/v2/gc/app/blobs/${b.descriptor.digest}`);
        assert.equal(sha256(Buffer.from(await r.body.arrayBuffer())), b.descriptor.digest);
      }
      const gone = await request(`${reg.url}/v2/gc/app/blobs/${img1.layers[1]!.descriptor.digest}`);
      await gone.body.dump();
      assert.equal(gone.statusCode, 404);
    } finally {
      await reg.stop();
      await rm(root, { recursive: true, force: true });
    }
  });

  test('online: concurrent pushes sharing layers while the collector runs lose nothing referenced', async () => {
    const reg = await startLadingRegistry({ gc: { gracePeriod: '10m' } });
    try {
      // Garbage that shares a layer with what is about to be pushed: old and unreferenced.
      const shared = await tarLayer([file('base.txt', 'base layer shared by everything')]);
      const old = buildImage({ layers: [shared, await tarLayer([file('old.txt', 'old')])], created: '2020-01-01T00:00:00Z' });
      await pushFixture(reg.url, 'race/app', old, 'old');
      const del = await request(`${reg.url}/v2/race/app/manifests/${old.manifest.descriptor.digest}`, { method: 'DELETE' });
      await del.body.dump();
      for (const b of [...old.blobs, old.manifest]) await age(reg.root, b.descriptor.digest);

      const images = await Promise.all(
        Array.from({ length: 8 }, async (_, i) => buildImage({ layers: [shared, await tarLayer([file(`app${i}.txt`, `app ${i}`)])], created: `2024-01-0${(i % 9) + 1}T00:00:00Z` })),
      );
      let collecting = true;
      let collections = 0;
      const collector = (async () => {
        while (collecting) {
          await reg.server.collect();
          collections++;
        }
      })();
      const accepted: FixtureImage[] = [];
      await Promise.all(
        images.map(async (img, i) => {
          const repo = i % 2 ? 'race/app' : `race/app${i}`;
          for (let attempt = 0; ; attempt++) {
            try {
              await pushFixture(reg.url, repo, img, `v${i}`);
              accepted.push(img);
              return;
            } catch (e) {
              // A push that checked a blob just before the collector removed it is refused
              // with MANIFEST_BLOB_UNKNOWN, never accepted with a hole; pushing again works.
              if (attempt > 3 || !/MANIFEST_BLOB_UNKNOWN/.test((e as Error).message)) throw e;
            }
          }
        }),
      );
      collecting = false;
      await collector;
      assert.ok(collections >= 1);
      await reg.server.collect();
      assert.equal(accepted.length, images.length);
      for (const [i, img] of images.entries()) {
        const repo = i % 2 ? 'race/app' : `race/app${i}`;
        for (const b of [...img.blobs, img.manifest]) {
          const r = await request(`${reg.url}/v2/${repo}/${b === img.manifest ? 'manifests' : 'blobs'}/${b.descriptor.digest}`);
          const got = Buffer.from(await r.body.arrayBuffer());
          assert.equal(r.statusCode, 200, `${repo} ${b.descriptor.digest}`);
          assert.equal(sha256(got), b.descriptor.digest as Digest);
        }
      }
      assert.equal(await exists(blobPath(reg.root, old.layers[1]!.descriptor.digest)), false, 'the old image’s own layer was collected');
      assert.equal(await exists(blobPath(reg.root, old.config.descriptor.digest)), false);
    } finally {
      await reg.stop();
    }
  });
});
