// lading image copy between registries, the local store, OCI layouts and docker-archives,
// checked with skopeo and the CNCF registry.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { main } from '../../src/cli/index.js';
import { buildImage, captureIo, file, pushFixture, requireTool, startDistribution, tarLayer, type FixtureImage, type RunningRegistry } from '../../src/testing/index.js';

const run = promisify(execFile);
let a: RunningRegistry;
let b: RunningRegistry;
let work: string;
let skopeo: string;
let img: FixtureImage;

before(async () => {
  skopeo = await requireTool('skopeo', 'apt-get install -y skopeo');
  [a, b] = await Promise.all([startDistribution(), startDistribution()]);
  work = await mkdtemp(join(tmpdir(), 'lading-copy-'));
  img = buildImage({ layers: [await tarLayer([file('a.txt', 'a\n')]), await tarLayer([file('r.bin', randomBytes(100 * 1024))])] });
  await pushFixture(a.url, 'src/img', img, '1');
});
after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await rm(work, { recursive: true, force: true });
});

async function lading(root: string, args: string[]) {
  const io = captureIo({ env: { ...process.env, LADING_ROOT: root } });
  process.exitCode = undefined;
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

const digestOf = async (ref: string) =>
  (JSON.parse((await run(skopeo, ['inspect', '--tls-verify=false', ref])).stdout) as { Digest: string }).Digest;

test('registry to registry streams every blob without storing it locally', async () => {
  const root = await mkdtemp(join(work, 'root-'));
  const r = await lading(root, ['image', 'copy', `${a.host}/src/img:1`, `docker://${b.host}/copied/img:2`]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `${img.manifest.descriptor.digest}\n`);
  assert.equal(await digestOf(`docker://${b.host}/copied/img:2`), img.manifest.descriptor.digest);
  const blobs = await readdir(join(root, 'content', 'blobs', 'sha256')).catch(() => [] as string[]);
  assert.deepEqual(blobs, []);
});

test('registry -> oci: -> local: -> docker-archive: -> registry keeps the digests', async () => {
  const root = await mkdtemp(join(work, 'root-'));
  const layout = join(root, 'layout');
  assert.equal((await lading(root, ['image', 'copy', `${a.host}/src/img:1`, `oci:${layout}:v1`])).code, 0);
  assert.equal(await digestOf(`oci:${layout}:v1`), img.manifest.descriptor.digest);

  const toLocal = await lading(root, ['image', 'copy', `oci:${layout}:v1`, 'local:copied/local:3']);
  assert.equal(toLocal.code, 0, toLocal.err);
  const inspect = JSON.parse((await lading(root, ['image', 'inspect', 'copied/local:3'])).out) as Array<{ Id: string; RootFS: { Layers: string[] } }>;
  assert.equal(inspect[0]!.Id, img.config.descriptor.digest);
  assert.deepEqual(inspect[0]!.RootFS.Layers, img.diffIds);

  const archive = join(root, 'x.tar');
  const toArchive = await lading(root, ['image', 'copy', 'local:copied/local:3', `docker-archive:${archive}`]);
  assert.equal(toArchive.code, 0, toArchive.err);
  const back = await lading(root, ['image', 'copy', `docker-archive:${archive}`, `${b.host}/from/archive:4`]);
  assert.equal(back.code, 0, back.err);
  assert.equal(await digestOf(`docker://${b.host}/from/archive:4`), img.manifest.descriptor.digest);
  // The archive loads elsewhere under the name it carried.
  const other = await mkdtemp(join(work, 'root-'));
  const loaded = await lading(other, ['load', '-i', archive]);
  assert.equal(loaded.out, 'Loaded image: copied/local:3\n');
});

test('a missing source is reported and nothing is written', async () => {
  const root = await mkdtemp(join(work, 'root-'));
  const r = await lading(root, ['image', 'copy', `${a.host}/src/img:nope`, `oci:${join(root, 'out')}:x`]);
  assert.equal(r.code, 1);
  assert.match(r.err, /manifest for .*src\/img:nope not found: manifest unknown/);
  await assert.rejects(readdir(join(root, 'out')));
});
