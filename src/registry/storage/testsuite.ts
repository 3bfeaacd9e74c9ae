import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { isCode } from '../../errors/index.js';
import { sha256, type Digest } from '../../oci/index.js';
import { readLimited } from '../../util/index.js';
import type { RegistryStorage } from './types.js';

export interface RegistryStorageHarness {
  storage: RegistryStorage;
  /** A fresh instance over the same data, as after a server restart. */
  reopen(): Promise<RegistryStorage>;
  cleanup(): Promise<void>;
}

const bytes = (s: string) => Buffer.from(s);
const body = (...parts: Array<string | Buffer>) => Readable.from(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));

async function readStream(s: { stream: Readable } | { redirect: string }): Promise<string> {
  assert.ok('stream' in s, 'expected a stream, got a redirect');
  return (await readLimited(s.stream, 1 << 24)).toString();
}

async function uploadBlob(st: RegistryStorage, repo: string, content: string): Promise<Digest> {
  const u = await st.uploads.start(repo);
  await st.uploads.append(u.id, 0, body(content));
  const d = sha256(content);
  await st.uploads.commit(u.id, d);
  await st.repos.linkBlob(repo, d);
  return d;
}

/**
 * The behaviour every RegistryStorage backend must have (distribution's driver testsuites,
 * containerd's content testsuite). Call inside a describe(); `make` gives a fresh empty storage.
 */
export function registryStorageSuite(make: () => Promise<RegistryStorageHarness>): void {
  const withStorage = (name: string, fn: (h: RegistryStorageHarness) => Promise<void>) =>
    test(name, async () => {
      const h = await make();
      try {
        await fn(h);
      } finally {
        await h.cleanup();
      }
    });

  withStorage('blob: put, stat, read, range, touch, delete', async ({ storage: s }) => {
    const d = sha256('hello world');
    assert.equal(await s.blobs.stat(d), undefined);
    await assert.rejects(s.blobs.open(d), (e) => isCode(e, 'NOT_FOUND'));
    await s.blobs.put(d, bytes('hello world'));
    const st = await s.blobs.stat(d);
    assert.equal(st?.size, 11);
    assert.equal(await readStream(await s.blobs.open(d)), 'hello world');
    assert.equal(await readStream(await s.blobs.open(d, { range: { start: 6, end: 11 } })), 'world');
    assert.equal(await readStream(await s.blobs.open(d, { range: { start: 3, end: 3 } })), '');
    await assert.rejects(s.blobs.open(d, { range: { start: 5, end: 12 } }), (e) => isCode(e, 'INVALID_ARGUMENT'));
    assert.equal((await s.blobs.read(d, 100)).toString(), 'hello world');
    await assert.rejects(s.blobs.read(d, 5));
    await assert.rejects(s.blobs.put(sha256('other'), bytes('not other')), (e) => isCode(e, 'DIGEST_MISMATCH'));
    assert.equal(await s.blobs.touch(d), true);
    assert.equal(await s.blobs.touch(sha256('absent')), false);
    const seen: string[] = [];
    for await (const b of s.blobs.walk()) seen.push(b.digest);
    assert.deepEqual(seen, [d]);
    assert.equal(await s.blobs.delete(d), true);
    assert.equal(await s.blobs.delete(d), false);
    assert.equal(await s.blobs.stat(d), undefined);
  });

  withStorage('blob: sweep deletes only what was not referenced since the cutoff', async ({ storage: s }) => {
    const d = sha256('old');
    await s.blobs.put(d, bytes('old'));
    const past = new Date(Date.now() - 60_000);
    assert.equal(await s.blobs.sweep(d, past), 'kept', 'a blob written after the cutoff stays');
    assert.ok(await s.blobs.stat(d));
    assert.equal(await s.blobs.sweep(d, new Date(Date.now() + 60_000)), 'deleted');
    assert.equal(await s.blobs.stat(d), undefined);
    assert.equal(await s.blobs.sweep(d, new Date()), 'absent');
  });

  withStorage('upload: chunks at the right offset, commit makes the blob visible', async ({ storage: s }) => {
    const u = await s.uploads.start('a/b');
    assert.equal(u.offset, 0);
    assert.equal((await s.uploads.info(u.id))?.repository, 'a/b');
    assert.equal(await s.uploads.append(u.id, 0, body('hello ')), 6);
    await assert.rejects(s.uploads.append(u.id, 0, body('x')), (e) => isCode(e, 'CONFLICT') && (e as { detail?: { offset?: number } }).detail?.offset === 6);
    await assert.rejects(s.uploads.append(u.id, 7, body('x')), (e) => isCode(e, 'CONFLICT'));
    assert.equal(await s.uploads.append(u.id, 6, body('wor', 'ld')), 11);
    assert.equal((await s.uploads.info(u.id))?.offset, 11);
    const d = sha256('hello world');
    assert.equal(await s.blobs.stat(d), undefined, 'nothing visible before commit');
    const st = await s.uploads.commit(u.id, d);
    assert.equal(st.size, 11);
    assert.equal(await readStream(await s.blobs.open(d)), 'hello world');
    assert.equal(await s.uploads.info(u.id), undefined, 'a committed upload is gone');
    await assert.rejects(s.uploads.append(u.id, 11, body('x')), (e) => isCode(e, 'NOT_FOUND'));
  });

  withStorage('upload: a wrong digest is refused and nothing becomes visible', async ({ storage: s }) => {
    const u = await s.uploads.start('r');
    await s.uploads.append(u.id, 0, body('abc'));
    const wrong = sha256('abd');
    await assert.rejects(s.uploads.commit(u.id, wrong), (e) => isCode(e, 'DIGEST_MISMATCH'));
    assert.equal(await s.blobs.stat(wrong), undefined);
    assert.equal(await s.blobs.stat(sha256('abc')), undefined);
  });

  withStorage('upload: size limit, cancel, listing', async ({ storage: s }) => {
    const u = await s.uploads.start('r');
    await assert.rejects(s.uploads.append(u.id, 0, body('0123456789'), { maxBytes: 4 }), (e) => isCode(e, 'SIZE_MISMATCH'));
    const v = await s.uploads.start('r');
    const ids: string[] = [];
    for await (const x of s.uploads.list()) ids.push(x.id);
    assert.deepEqual(ids.sort(), [u.id, v.id].sort());
    assert.equal(await s.uploads.cancel(v.id), true);
    assert.equal(await s.uploads.cancel(v.id), false);
    assert.equal(await s.uploads.info(v.id), undefined);
    assert.equal(await s.uploads.info('../../etc'), undefined);
  });

  withStorage('upload: survives a restart and resumes at its offset', async (h) => {
    const content = Buffer.alloc(3 << 20, 7);
    content.write('head');
    const u = await h.storage.uploads.start('resume/me');
    await h.storage.uploads.append(u.id, 0, body(content.subarray(0, 1 << 20)));
    const s2 = await h.reopen();
    const info = await s2.uploads.info(u.id);
    assert.equal(info?.offset, 1 << 20);
    await s2.uploads.append(u.id, 1 << 20, body(content.subarray(1 << 20)));
    const d = `sha256:${createHash('sha256').update(content).digest('hex')}` as Digest;
    await s2.uploads.commit(u.id, d);
    assert.equal((await s2.blobs.stat(d))?.size, content.length);
  });

  withStorage('repos: links, manifests, tags, referrers', async ({ storage: s }) => {
    const d = await uploadBlob(s, 'lib/app', 'layer');
    assert.equal(await s.repos.hasBlobLink('lib/app', d), true);
    assert.equal(await s.repos.hasBlobLink('other', d), false, 'a blob is visible only where linked');
    const links: string[] = [];
    for await (const l of s.repos.listBlobLinks('lib/app')) links.push(l);
    assert.deepEqual(links, [d]);

    const m = sha256('manifest');
    await s.blobs.put(m, bytes('manifest'));
    await s.repos.putManifest('lib/app', { digest: m, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 8 });
    const ref = sha256('referrer');
    await s.repos.putManifest('lib/app', { digest: ref, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 8, subject: m, artifactType: 'application/x-sig', annotations: { k: 'v' } });
    assert.equal((await s.repos.getManifest('lib/app', m))?.size, 8);
    assert.equal(await s.repos.getManifest('other', m), undefined);
    assert.deepEqual(await s.repos.referrers('lib/app', m), [
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: ref, size: 8, artifactType: 'application/x-sig', annotations: { k: 'v' } },
    ]);
    assert.deepEqual(await s.repos.referrers('other', m), []);

    for (const t of ['v2', 'latest', 'v1', 'a']) await s.repos.setTag('lib/app', t, m);
    assert.equal(await s.repos.resolveTag('lib/app', 'v1'), m);
    assert.deepEqual(await s.repos.listTags('lib/app'), { items: ['a', 'latest', 'v1', 'v2'], more: false });
    assert.deepEqual(await s.repos.listTags('lib/app', { n: 2 }), { items: ['a', 'latest'], more: true });
    assert.deepEqual(await s.repos.listTags('lib/app', { n: 2, last: 'latest' }), { items: ['v1', 'v2'], more: false });
    assert.deepEqual(await s.repos.listTags('lib/app', { n: 0 }), { items: [], more: true });
    assert.equal(await s.repos.deleteTag('lib/app', 'a'), true);
    assert.equal(await s.repos.deleteTag('lib/app', 'a'), false);

    assert.equal(await s.repos.deleteManifest('lib/app', ref), true);
    assert.deepEqual(await s.repos.referrers('lib/app', m), [], 'a deleted referrer is unlisted');
    assert.equal(await s.repos.deleteManifest('lib/app', m), true);
    assert.equal(await s.repos.resolveTag('lib/app', 'v1'), undefined, 'deleting a manifest drops its tags');
    assert.deepEqual((await s.repos.listTags('lib/app')).items, []);
    assert.equal(await s.repos.deleteManifest('lib/app', m), false);
  });

  withStorage('repos: catalog paging and repository deletion leave nested repositories alone', async ({ storage: s }) => {
    for (const r of ['b', 'a', 'a/nested', 'c/d/e']) await uploadBlob(s, r, `blob of ${r}`);
    assert.deepEqual(await s.repos.repositories(), { items: ['a', 'a/nested', 'b', 'c/d/e'], more: false });
    assert.deepEqual(await s.repos.repositories({ n: 2 }), { items: ['a', 'a/nested'], more: true });
    assert.deepEqual(await s.repos.repositories({ n: 2, last: 'a/nested' }), { items: ['b', 'c/d/e'], more: false });
    assert.equal(await s.repos.exists('c/d'), false);
    assert.equal(await s.repos.deleteRepository('a'), true);
    assert.equal(await s.repos.exists('a'), false);
    assert.equal(await s.repos.exists('a/nested'), true);
    assert.equal(await s.repos.deleteRepository('a'), false);
    assert.deepEqual((await s.repos.repositories()).items, ['a/nested', 'b', 'c/d/e']);
  });
}
