import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uploadRangeEnd } from './pusher.js';
import { FileUploadStates } from './upload-state.js';

test('upload states persist per (registry, repository, digest) and are forgotten on delete', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lading-uploads-'));
  try {
    const s = new FileUploadStates(join(dir, 'uploads'));
    const k = { registry: 'r:5000', repository: 'a/b', digest: 'sha256:' + 'a'.repeat(64) };
    assert.equal(await s.get(k), undefined);
    await s.set(k, { url: 'http://r:5000/v2/a/b/blobs/uploads/u?_state=x', offset: 1024, updatedAt: 5 });
    // Another process (a new instance) finds it.
    assert.deepEqual(await new FileUploadStates(join(dir, 'uploads')).get(k), { url: 'http://r:5000/v2/a/b/blobs/uploads/u?_state=x', offset: 1024, updatedAt: 5 });
    assert.equal(await s.get({ ...k, repository: 'a/c' }), undefined);
    await s.delete(k);
    assert.equal(await s.get(k), undefined);
    assert.deepEqual(await readdir(join(dir, 'uploads')), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a torn or foreign state file is ignored, never trusted', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lading-uploads-'));
  try {
    const s = new FileUploadStates(dir);
    const k = { registry: 'r', repository: 'a', digest: 'sha256:' + 'b'.repeat(64) };
    await s.set(k, { url: 'http://x/', offset: 1, updatedAt: 1 });
    const [name] = await readdir(dir);
    await writeFile(join(dir, name!), '{"url":"http://x/","off');
    assert.equal(await s.get(k), undefined);
    await writeFile(join(dir, name!), JSON.stringify({ key: { ...k, repository: 'other' }, url: 'http://x/', offset: 1 }));
    assert.equal(await s.get(k), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('upload Range headers give the bytes the registry holds', () => {
  assert.equal(uploadRangeEnd('0-1023'), 1024);
  assert.equal(uploadRangeEnd('bytes=0-99'), 100);
  assert.equal(uploadRangeEnd(undefined), undefined);
  assert.equal(uploadRangeEnd('5-10'), undefined);
});
