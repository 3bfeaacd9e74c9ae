// lading push against the CNCF distribution registry, checked with skopeo: skip, mount, upload,
// chunked uploads, token auth with push scope, and a manifest the registry refuses.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { main } from '../../src/cli/index.js';
import { images, openDatabase, tags } from '../../src/metadata/index.js';
import { createEngine, resolveConfig } from '../../src/engine/index.js';
import { MediaType, sha256 } from '../../src/oci/index.js';
import { RegistryError } from '../../src/errors/index.js';
import { writeFile } from 'node:fs/promises';
import {
  buildImage,
  captureIo,
  file,
  pushFixture,
  requireTool,
  startDistribution,
  startTokenServer,
  tarLayer,
  ociLayoutTar,
  type FixtureImage,
  type RunningRegistry,
} from '../../src/testing/index.js';

const run = promisify(execFile);
let reg: RunningRegistry;
let reg2: RunningRegistry;
let work: string;
let skopeo: string;
let img: FixtureImage;

before(async () => {
  skopeo = await requireTool('skopeo', 'apt-get install -y skopeo');
  [reg, reg2] = await Promise.all([startDistribution(), startDistribution()]);
  work = await mkdtemp(join(tmpdir(), 'lading-push-'));
  img = buildImage({
    layers: [await tarLayer([file('a.txt', 'a\n')]), await tarLayer([file('big.bin', randomBytes(300 * 1024))]), await tarLayer([file('c.txt', 'c\n')])],
  });
  await pushFixture(reg.url, 'src/img', img, '1');
});
after(async () => {
  await Promise.all([reg?.stop(), reg2?.stop()]);
  await rm(work, { recursive: true, force: true });
});

async function lading(root: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const io = captureIo({ env: { ...process.env, LADING_ROOT: root, DOCKER_CONFIG: join(root, 'docker-config'), ...env } });
  // node:test sets process.exitCode after a failed test, which main() would report as ours.
  process.exitCode = undefined;
  const code = await main(args, io);
  if (code !== 0 && process.env.DEBUG_TEST) console.error(args.join(' '), io.out(), io.err());
  return { code, out: io.out(), err: io.err() };
}

/** Point repository:tag at an image in a lading store (what `lading tag` does). */
function tagLocal(root: string, id: string, repository: string, tag: string): void {
  const db = openDatabase(join(root, 'lading.db'));
  try {
    db.tx((tx) => tags.set(tx, repository, tag, id));
  } finally {
    db.close();
  }
}

async function skopeoInspect(ref: string): Promise<{ Digest: string; Layers: string[] }> {
  const { stdout } = await run(skopeo, ['inspect', '--tls-verify=false', `docker://${ref}`]);
  return JSON.parse(stdout) as { Digest: string; Layers: string[] };
}

const ids = (i: FixtureImage) => i.diffIds.map((d) => d.slice(7, 19));

test('push to another registry uploads every layer; skopeo reads the same digest; a second push finds them', async () => {
  const root = await mkdtemp(join(work, 'root-'));
  assert.equal((await lading(root, ['pull', `${reg.host}/src/img:1`])).code, 0);
  tagLocal(root, img.config.descriptor.digest, `${reg2.host}/dst/img`, '2');
  const lastUsed = (set?: number): number | undefined => {
    const db = openDatabase(join(root, 'lading.db'));
    try {
      if (set !== undefined) db.tx((tx) => images.touch(tx, img.config.descriptor.digest, set));
      return db.read((tx) => images.find(tx, img.config.descriptor.digest)?.lastUsedAt);
    } finally {
      db.close();
    }
  };
  lastUsed(1000);
  const r = await lading(root, ['push', `${reg2.host}/dst/img:2`]);
  assert.equal(r.code, 0, r.err);
  assert.ok((lastUsed() ?? 0) > 1000, 'a push counts as a use (prune --unused-for, --keep-storage)');
  const lines = r.out.trimEnd().split('\n');
  assert.equal(lines[0], `The push refers to repository [${reg2.host}/dst/img]`);
  for (const id of ids(img)) {
    assert.ok(lines.includes(`${id}: Preparing`), r.out);
    assert.ok(lines.includes(`${id}: Pushed`), r.out);
  }
  assert.equal(lines.at(-1), `2: digest: ${img.manifest.descriptor.digest} size: ${img.manifest.bytes.length}`);
  const seen = await skopeoInspect(`${reg2.host}/dst/img:2`);
  assert.equal(seen.Digest, img.manifest.descriptor.digest);
  assert.deepEqual(seen.Layers, img.layers.map((l) => l.descriptor.digest));
  // skopeo copies it out byte for byte (it verifies every blob digest).
  const oci = join(root, 'oci');
  await run(skopeo, ['copy', '--src-tls-verify=false', `docker://${reg2.host}/dst/img:2`, `oci:${oci}:x`]);
  const index = JSON.parse(await readFile(join(oci, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  assert.equal(index.manifests[0]!.digest, img.manifest.descriptor.digest);

  const again = await lading(root, ['push', `${reg2.host}/dst/img:2`]);
  assert.equal(again.code, 0, again.err);
  for (const id of ids(img)) assert.ok(again.out.includes(`${id}: Layer already exists\n`), again.out);
  // Pushing records the repository digest, as Docker does.
  const inspect = await lading(root, ['image', 'inspect', `${reg2.host}/dst/img:2`]);
  const digests = (JSON.parse(inspect.out) as Array<{ RepoDigests: string[] }>)[0]!.RepoDigests;
  assert.ok(digests.includes(`${reg2.host}/dst/img@${img.manifest.descriptor.digest}`), digests.join());
});

test('layers held by another repository of the same registry are mounted', async () => {
  const root = await mkdtemp(join(work, 'root-'));
  assert.equal((await lading(root, ['pull', `${reg.host}/src/img:1`])).code, 0);
  tagLocal(root, img.config.descriptor.digest, `${reg.host}/other/img`, 'm');
  const r = await lading(root, ['push', `${reg.host}/other/img:m`]);
  assert.equal(r.code, 0, r.err);
  for (const id of ids(img)) assert.ok(r.out.includes(`${id}: Mounted from src/img\n`), r.out);
  assert.equal((await skopeoInspect(`${reg.host}/other/img:m`)).Digest, img.manifest.descriptor.digest);
});

test('--all-tags pushes every local tag; missing tags are reported like Docker', async () => {
  const root = await mkdtemp(join(work, 'root-'));
  assert.equal((await lading(root, ['pull', `${reg.host}/src/img:1`])).code, 0);
  tagLocal(root, img.config.descriptor.digest, `${reg2.host}/all/img`, 'a');
  tagLocal(root, img.config.descriptor.digest, `${reg2.host}/all/img`, 'b');
  const r = await lading(root, ['push', '--all-tags', `${reg2.host}/all/img`]);
  assert.equal(r.code, 0, r.err);
  assert.ok(r.out.includes(`a: digest: ${img.manifest.descriptor.digest}`), r.out);
  assert.ok(r.out.includes(`b: digest: ${img.manifest.descriptor.digest}`), r.out);
  const { stdout } = await run(skopeo, ['list-tags', '--tls-verify=false', `docker://${reg2.host}/all/img`]);
  assert.deepEqual((JSON.parse(stdout) as { Tags: string[] }).Tags.sort(), ['a', 'b']);

  const missing = await lading(root, ['push', `${reg2.host}/nope/img:1`]);
  assert.equal(missing.code, 1);
  assert.equal(missing.out, `The push refers to repository [${reg2.host}/nope/img]\n`);
  assert.equal(missing.err, `An image does not exist locally with the tag: ${reg2.host}/nope/img\n`);
  const both = await lading(root, ['push', '-a', `${reg2.host}/all/img:a`]);
  assert.equal(both.code, 1);
  assert.equal(both.err, "tag can't be used with --all-tags/-a\n");
});

test('large layers go up in PATCH chunks and arrive intact', async () => {
  const root = await mkdtemp(join(work, 'root-'));
  assert.equal((await lading(root, ['pull', `${reg.host}/src/img:1`])).code, 0);
  tagLocal(root, img.config.descriptor.digest, `${reg2.host}/chunked/img`, '1');
  // 64 KiB chunks: the 300 KiB layer takes several PATCH requests.
  const r = await lading(root, ['push', `${reg2.host}/chunked/img:1`], { LADING_PUSH_CHUNK_SIZE: String(64 * 1024) });
  assert.equal(r.code, 0, r.err);
  const oci = join(root, 'oci');
  await run(skopeo, ['copy', '--src-tls-verify=false', `docker://${reg2.host}/chunked/img:1`, `oci:${oci}:x`]);
  const big = img.layers[1]!.descriptor.digest;
  const bytes = await readFile(join(oci, 'blobs', 'sha256', big.slice(7)));
  assert.ok(bytes.equals(img.layers[1]!.bytes));
});

test('token auth: lading asks for push scope and pushes after login', async () => {
  const dir = await mkdtemp(join(work, 'tok-'));
  const tokens = await startTokenServer(dir, { users: { bob: 'pw' }, publicPrefix: 'public/' });
  const treg = await startDistribution({ auth: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.rootCertBundle } });
  try {
    const root = await mkdtemp(join(work, 'root-'));
    assert.equal((await lading(root, ['pull', `${reg.host}/src/img:1`])).code, 0);
    tagLocal(root, img.config.descriptor.digest, `${treg.host}/team/img`, '1');
    const denied = await lading(root, ['push', `${treg.host}/team/img:1`]);
    assert.equal(denied.code, 1);
    assert.match(denied.err, /^(unauthorized|denied): /m);
    const io = captureIo({ env: { ...process.env, LADING_ROOT: root, DOCKER_CONFIG: join(root, 'docker-config') }, stdin: 'pw\n' });
    assert.equal(await main(['login', '-u', 'bob', '--password-stdin', treg.host], io), 0, io.err());
    const n = tokens.requests.length;
    const r = await lading(root, ['push', `${treg.host}/team/img:1`]);
    assert.equal(r.code, 0, r.err);
    const scopes = tokens.requests.slice(n).map((q) => q.scope);
    assert.ok(scopes.includes('repository:team/img:pull,push'), scopes.join(' | '));
    assert.ok(tokens.requests.slice(n).every((q) => q.user === 'bob'));
  } finally {
    await treg.stop();
    await tokens.close();
  }
});

test('a manifest the registry refuses is reported with its error code', async () => {
  const root = await mkdtemp(join(work, 'root-'));
  // A schema 2 manifest without its mediaType field: lading stores it as given, distribution refuses it.
  const doc = JSON.parse(img.manifest.bytes.toString('utf8')) as Record<string, unknown>;
  delete doc.mediaType;
  const bytes = Buffer.from(JSON.stringify(doc));
  const odd: FixtureImage = { ...img, manifest: { descriptor: { mediaType: MediaType.DockerManifest, digest: sha256(bytes), size: bytes.length }, bytes } };
  const tarPath = join(root, 'odd.tar');
  await writeFile(tarPath, await ociLayoutTar([{ image: odd, annotations: { 'io.containerd.image.name': `${reg2.host}/refused/img:1` } }]));
  const loaded = await lading(root, ['load', '-i', tarPath]);
  assert.equal(loaded.code, 0, loaded.err);
  const r = await lading(root, ['push', `${reg2.host}/refused/img:1`]);
  assert.equal(r.code, 1);
  assert.match(r.err, /^manifest invalid: /);
  const engine = createEngine(resolveConfig({ env: { ...process.env, LADING_ROOT: root } }));
  try {
    await assert.rejects(engine.push(`${reg2.host}/refused/img:1`), (e: unknown) => {
      assert.ok(e instanceof RegistryError);
      assert.equal(e.status, 400);
      assert.equal(e.errors[0]?.code, 'MANIFEST_INVALID');
      assert.equal(e.code, 'MANIFEST_INVALID');
      return true;
    });
  } finally {
    engine.close();
  }
});
