// lading's registry with independent real clients: skopeo copies in and out, podman and a
// Docker daemon (started here with its own data root) push and pull. One server per file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { MediaType, sha256 } from '../../src/oci/index.js';
import { Htpasswd } from '../../src/registry/index.js';
import { buildImage, dir, file, pushFixture, requireTool, startDockerd, startLadingRegistry, tarLayer, type FixtureImage, type LadingRegistry, type TestDockerd } from '../../src/testing/index.js';

const run = promisify(execFile);
let reg: LadingRegistry;
let work: string;
let img: FixtureImage;

before(async () => {
  work = await mkdtemp('/tmp/lri-');
  reg = await startLadingRegistry();
  img = buildImage({
    layers: [await tarLayer([dir('etc'), file('etc/os-release', 'NAME=interop\n')]), await tarLayer([dir('app'), file('app/data.bin', Buffer.alloc(200_000, 7))])],
    format: 'docker',
  });
  await pushFixture(reg.url, 'seed/app', img, '1');
});
after(async () => {
  await reg?.stop();
  await rm(work, { recursive: true, force: true });
});

async function manifestDigest(repo: string, ref: string): Promise<string> {
  const r = await request(`${reg.url}/v2/${repo}/manifests/${ref}`, { method: 'HEAD', headers: { accept: [MediaType.DockerManifest, MediaType.OciManifest].join(', ') } });
  await r.body.dump();
  assert.equal(r.statusCode, 200, `${repo}:${ref}`);
  return String(r.headers['docker-content-digest']);
}

/** An OCI image layout on disk holding `image` (what skopeo reads as oci:DIR:TAG). */
async function writeLayout(path: string, image: FixtureImage, tag: string): Promise<void> {
  await mkdir(join(path, 'blobs', 'sha256'), { recursive: true });
  for (const b of [...image.blobs, image.manifest]) await writeFile(join(path, 'blobs', 'sha256', b.descriptor.digest.slice(7)), b.bytes);
  await writeFile(join(path, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const desc = { ...image.manifest.descriptor, annotations: { 'org.opencontainers.image.ref.name': tag } };
  await writeFile(join(path, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [desc] }));
}

describe('skopeo', () => {
  test('copy an OCI layout in, copy it back out byte for byte, copy between repositories', async () => {
    const skopeo = await requireTool('skopeo', 'apt-get install -y skopeo');
    const oci = buildImage({ layers: [await tarLayer([file('skopeo.txt', 'from a layout')])] });
    await writeLayout(join(work, 'in'), oci, 'v1');
    await run(skopeo, ['copy', '--dest-tls-verify=false', `oci:${join(work, 'in')}:v1`, `docker://${reg.host}/skopeo/app:v1`]);
    assert.equal(await manifestDigest('skopeo/app', 'v1'), oci.manifest.descriptor.digest, 'pushed unchanged');
    await run(skopeo, ['copy', '--src-tls-verify=false', `docker://${reg.host}/skopeo/app:v1`, `oci:${join(work, 'out')}:v1`]);
    const index = JSON.parse(await readFile(join(work, 'out', 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    assert.equal(index.manifests[0]!.digest, oci.manifest.descriptor.digest);
    for (const b of oci.blobs) assert.equal(sha256(await readFile(join(work, 'out', 'blobs', 'sha256', b.descriptor.digest.slice(7)))), b.descriptor.digest);
    // Registry to registry: skopeo mounts the layers from the source repository.
    await run(skopeo, ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${reg.host}/seed/app:1`, `docker://${reg.host}/skopeo/copied:1`]);
    assert.equal(await manifestDigest('skopeo/copied', '1'), img.manifest.descriptor.digest);
    const { stdout } = await run(skopeo, ['list-tags', '--tls-verify=false', `docker://${reg.host}/skopeo/app`]);
    assert.deepEqual((JSON.parse(stdout) as { Tags: string[] }).Tags, ['v1']);
  });

  test('with Basic auth: refused without credentials, accepted with them', async () => {
    const skopeo = await requireTool('skopeo', 'apt-get install -y skopeo');
    const htpasswd = join(work, 'htpasswd');
    await writeFile(htpasswd, `${Htpasswd.entry('sk', 'sk-pw', 4)}\n`);
    const secured = await startLadingRegistry({ auth: { htpasswd } });
    try {
      const src = `docker://${reg.host}/seed/app:1`;
      await assert.rejects(run(skopeo, ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', src, `docker://${secured.host}/priv/app:1`]), /authentication required|unauthorized/i);
      await run(skopeo, ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--dest-creds', 'sk:sk-pw', src, `docker://${secured.host}/priv/app:1`]);
      const { stdout } = await run(skopeo, ['inspect', '--tls-verify=false', '--creds', 'sk:sk-pw', `docker://${secured.host}/priv/app:1`]);
      assert.equal((JSON.parse(stdout) as { Digest: string }).Digest, img.manifest.descriptor.digest);
    } finally {
      await secured.stop();
    }
  });
});

describe('podman', () => {
  test('pull, tag, push to another repository, pull it back', async () => {
    const podman = await requireTool('podman', 'apt-get install -y podman');
    const base = ['--root', join(work, 'podman', 'root'), '--runroot', join(work, 'podman', 'run'), '--storage-driver', 'vfs'];
    try {
      await run(podman, [...base, 'pull', '--tls-verify=false', `${reg.host}/seed/app:1`]);
      await run(podman, [...base, 'tag', `${reg.host}/seed/app:1`, `${reg.host}/podman/app:2`]);
      await run(podman, [...base, 'push', '--tls-verify=false', `${reg.host}/podman/app:2`]);
      const pushed = await manifestDigest('podman/app', '2');
      const r = await request(`${reg.url}/v2/podman/app/manifests/2`);
      const m = (await r.body.json()) as { layers: Array<{ digest: string }> };
      assert.equal(m.layers.length, 2);
      await run(podman, [...base, 'rmi', '-a', '-f']);
      const { stdout } = await run(podman, [...base, 'pull', '--tls-verify=false', `${reg.host}/podman/app:2`]);
      assert.match(stdout, /^[0-9a-f]{64}$/m);
      const { stdout: digest } = await run(podman, [...base, 'image', 'inspect', '--format', '{{.Digest}}', `${reg.host}/podman/app:2`]);
      assert.equal(digest.trim(), pushed);
    } finally {
      await run(podman, [...base, 'system', 'reset', '-f']).catch(() => {});
    }
  });
});

describe('docker', () => {
  let d: TestDockerd;
  before(async () => {
    d = await startDockerd(join(work, 'd'));
  });
  after(() => d?.stop());

  test('docker pull, tag, push (streamed uploads, mounts), pull after rmi', async () => {
    const pull = await d.docker(['pull', `${reg.host}/seed/app:1`]);
    assert.equal(pull.status, 0, pull.out);
    assert.match(pull.out, new RegExp(`Digest: ${img.manifest.descriptor.digest}`));
    assert.equal((await d.docker(['tag', `${reg.host}/seed/app:1`, `${reg.host}/docker/app:2`])).status, 0);
    const push = await d.docker(['push', `${reg.host}/docker/app:2`]);
    assert.equal(push.status, 0, push.out);
    assert.match(push.out, /Mounted from seed\/app|Pushed|Layer already exists/);
    const digest = await manifestDigest('docker/app', '2');
    assert.match(push.out, new RegExp(`2: digest: ${digest} size: \\d+`));
    assert.equal((await d.docker(['rmi', `${reg.host}/seed/app:1`, `${reg.host}/docker/app:2`])).status, 0);
    const again = await d.docker(['pull', `${reg.host}/docker/app:2`]);
    assert.equal(again.status, 0, again.out);
    assert.match(again.out, new RegExp(`Digest: ${digest}`));
    const missing = await d.docker(['pull', `${reg.host}/docker/app:nope`]);
    assert.notEqual(missing.status, 0);
    assert.match(missing.out, /manifest unknown/);
  });

  test('docker push of a freshly built layer uploads it (no mount possible)', async () => {
    // `docker import` makes a new single-layer image in the daemon, so the push must upload.
    const tar = await tarLayer([file('imported.txt', `imported ${Date.now()}`)]);
    await writeFile(join(work, 'layer.tar'), tar);
    const imp = await d.docker(['import', join(work, 'layer.tar'), `${reg.host}/docker/imported:1`]);
    assert.equal(imp.status, 0, imp.out);
    const push = await d.docker(['push', `${reg.host}/docker/imported:1`]);
    assert.equal(push.status, 0, push.out);
    assert.match(push.out, /Pushed/);
    const r = await request(`${reg.url}/v2/docker/imported/manifests/1`, { headers: { accept: MediaType.DockerManifest } });
    const m = (await r.body.json()) as { layers: Array<{ digest: string; size: number }> };
    const layer = await request(`${reg.url}/v2/docker/imported/blobs/${m.layers[0]!.digest}`);
    const bytes = Buffer.from(await layer.body.arrayBuffer());
    assert.equal(bytes.length, m.layers[0]!.size);
    assert.equal(sha256(bytes), m.layers[0]!.digest);
  });
});
