// save/load interop with a Docker daemon started by the test (Debian docker.io), skopeo-made OCI
// layouts, compressed archives, refused archives and offline bundles.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { main } from '../../src/cli/index.js';
import {
  buildImage,
  captureIo,
  compressZstd,
  dir,
  file,
  pushFixture,
  requireTool,
  startDistribution,
  startDockerd,
  tarLayer,
  whiteout,
  type FixtureImage,
  type TestDockerd,
  type RunningRegistry,
} from '../../src/testing/index.js';

const run = promisify(execFile);
let reg: RunningRegistry;
let daemon: TestDockerd;
/** The docker CLI against the test's daemon; a failing command fails the test with its output. */
const dockerd = {
  async docker(args: string[]): Promise<{ stdout: string }> {
    const r = await daemon.docker(args);
    if (r.status !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.status}: ${r.out}`);
    return { stdout: r.out };
  },
  stop: () => daemon?.stop(),
};
let work: string;
let skopeo: string;
let img: FixtureImage;
let img2: FixtureImage;

before(async () => {
  skopeo = await requireTool('skopeo', 'apt-get install -y skopeo');
  [reg, daemon] = await Promise.all([startDistribution(), mkdtemp('/tmp/ld').then((dir) => startDockerd(dir))]);
  work = await mkdtemp(join(tmpdir(), 'lading-archive-'));
  const base = await tarLayer([dir('etc'), file('etc/motd', 'hello\n'), file('etc/gone', 'x')]);
  const mid = await tarLayer([file('app/data.bin', Buffer.alloc(200 * 1024, 7)), whiteout('etc/gone')]);
  img = buildImage({ layers: [base, mid], format: 'oci', config: { Cmd: ['/bin/true'], Labels: { a: 'b' } } });
  img2 = buildImage({ layers: [base, mid, await tarLayer([file('extra.txt', 'extra\n')])], format: 'docker' });
  await pushFixture(reg.url, 'arc/img', img, '1');
  await pushFixture(reg.url, 'arc/img2', img2, '1');
});
after(async () => {
  await Promise.all([reg?.stop(), daemon?.stop()]);
  await rm(work, { recursive: true, force: true });
});

async function lading(root: string, args: string[], stdin?: string) {
  const io = captureIo({ env: { ...process.env, LADING_ROOT: root }, ...(stdin !== undefined ? { stdin } : {}) });
  // node:test sets process.exitCode after a failed test, which main() would report as ours.
  process.exitCode = undefined;
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

async function inspect(root: string, name: string): Promise<{ Id: string; RepoTags: string[]; RootFS: { Layers: string[] }; Config: { Cmd: string[] } }> {
  const r = await lading(root, ['image', 'inspect', name]);
  assert.equal(r.code, 0, r.err);
  return (JSON.parse(r.out) as Array<{ Id: string; RepoTags: string[]; RootFS: { Layers: string[] }; Config: { Cmd: string[] } }>)[0]!;
}

async function imageIds(root: string): Promise<string[]> {
  const r = await lading(root, ['images', '-q', '--no-trunc']);
  return r.out.split('\n').filter(Boolean).sort();
}

async function tarNames(path: string): Promise<string[]> {
  const ex = extract();
  const names: string[] = [];
  ex.on('entry', (h, s, next) => {
    names.push(h.name);
    s.on('end', next);
    s.resume();
  });
  const done = new Promise<void>((r) => ex.on('finish', () => r()));
  ex.end(await readFile(path));
  await done;
  return names;
}

test('lading save, then docker load (Docker 20.10) shows the same image ID and layers', async () => {
  const root = await mkdtemp(join(work, 'root-'));
  assert.equal((await lading(root, ['pull', `${reg.host}/arc/img:1`])).code, 0);
  const out = join(root, 'saved.tar');
  const s = await lading(root, ['save', '-o', out, `${reg.host}/arc/img:1`]);
  assert.equal(s.code, 0, s.err);
  const names = await tarNames(out);
  for (const n of ['manifest.json', 'repositories', 'oci-layout', 'index.json', `blobs/sha256/${img.manifest.descriptor.digest.slice(7)}`]) assert.ok(names.includes(n), names.join());
  const loaded = await dockerd.docker(['load', '-i', out]);
  assert.equal(loaded.stdout, `Loaded image: ${reg.host}/arc/img:1\n`);
  const di = JSON.parse((await dockerd.docker(['image', 'inspect', `${reg.host}/arc/img:1`])).stdout) as Array<{ Id: string; RootFS: { Layers: string[] } }>;
  assert.equal(di[0]!.Id, img.config.descriptor.digest);
  assert.deepEqual(di[0]!.RootFS.Layers, img.diffIds);
  // The same tar is an OCI layout skopeo can read, with the pulled manifest digest.
  const layout = join(root, 'layout');
  await run('mkdir', ['-p', layout]);
  await run('tar', ['-xf', out, '-C', layout]);
  const { stdout } = await run(skopeo, ['inspect', `oci:${layout}:1`]);
  assert.equal((JSON.parse(stdout) as { Digest: string }).Digest, img.manifest.descriptor.digest);
});

test('docker save (an image pulled by dockerd), then lading load gives the same IDs, layers and config; gzip and zstd too', async () => {
  await dockerd.docker(['pull', `${reg.host}/arc/img2:1`]);
  const tarPath = join(work, 'docker-saved.tar');
  await dockerd.docker(['save', '-o', tarPath, `${reg.host}/arc/img2:1`]);
  const di = (JSON.parse((await dockerd.docker(['image', 'inspect', `${reg.host}/arc/img2:1`])).stdout) as Array<{ Id: string; RootFS: { Layers: string[] } }>)[0]!;
  const plain = await readFile(tarPath);
  for (const [kind, bytes] of [['plain', plain], ['gzip', gzipSync(plain)], ['zstd', compressZstd(plain)]] as const) {
    const root = await mkdtemp(join(work, 'root-'));
    const p = join(root, `in.${kind}`);
    await writeFile(p, bytes);
    const r = await lading(root, ['load', '-i', p]);
    assert.equal(r.code, 0, `${kind}: ${r.err}`);
    assert.equal(r.out, `Loaded image: ${reg.host}/arc/img2:1\n`);
    const li = await inspect(root, `${reg.host}/arc/img2:1`);
    assert.equal(li.Id, di.Id);
    assert.deepEqual(li.RootFS.Layers, di.RootFS.Layers);
    assert.deepEqual(li.RootFS.Layers, img2.diffIds);
    // Loading again is harmless and prints the same line.
    const again = await lading(root, ['load', '-i', p]);
    assert.equal(again.out, `Loaded image: ${reg.host}/arc/img2:1\n`);
  }
});

test('a skopeo-made OCI layout loads with its manifest digest kept', async () => {
  const root = await mkdtemp(join(work, 'root-'));
  const layout = join(root, 'sk');
  await run(skopeo, ['copy', '--src-tls-verify=false', `docker://${reg.host}/arc/img:1`, `oci:${layout}:v1`]);
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const tarPath = join(root, 'sk.tar');
  await run('tar', ['-cf', tarPath, '-C', layout, '.']);
  const r = await lading(root, ['load', '-i', tarPath]);
  assert.equal(r.code, 0, r.err);
  // skopeo's ref.name is a bare tag: no repository, so the image is loaded untagged (as Docker does).
  assert.equal(r.out, `Loaded image ID: ${img.config.descriptor.digest}\n`);
  const li = await inspect(root, img.config.descriptor.digest);
  assert.deepEqual(li.RootFS.Layers, img.diffIds);
  // Saved again from lading, the manifest is the one skopeo wrote.
  const out = join(root, 'again.tar');
  assert.equal((await lading(root, ['save', '-o', out, img.config.descriptor.digest])).code, 0);
  assert.ok((await tarNames(out)).includes(`blobs/sha256/${index.manifests[0]!.digest.slice(7)}`));
});

test('truncated or corrupt archives are refused and leave no image behind', async () => {
  const src = await mkdtemp(join(work, 'root-'));
  assert.equal((await lading(src, ['pull', `${reg.host}/arc/img:1`])).code, 0);
  const good = join(src, 'good.tar');
  assert.equal((await lading(src, ['save', '-o', good, `${reg.host}/arc/img:1`])).code, 0);
  const bytes = await readFile(good);

  const cut = join(src, 'cut.tar');
  await writeFile(cut, bytes);
  await truncate(cut, Math.floor(bytes.length / 2));
  const root1 = await mkdtemp(join(work, 'root-'));
  const r1 = await lading(root1, ['load', '-i', cut]);
  assert.equal(r1.code, 1);
  assert.match(r1.err, /Error processing tar file|incomplete archive/);
  assert.deepEqual(await imageIds(root1), []);

  // Flip one byte inside the big layer blob: its digest no longer matches its name.
  const bad = Buffer.from(bytes);
  const at = bad.indexOf(img.layers[1]!.bytes.subarray(1000, 1064));
  assert.ok(at > 0);
  bad[at + 10] = bad[at + 10]! ^ 0xff;
  const corrupt = join(src, 'corrupt.tar');
  await writeFile(corrupt, bad);
  const root2 = await mkdtemp(join(work, 'root-'));
  const r2 = await lading(root2, ['load', '-i', corrupt]);
  assert.equal(r2.code, 1);
  assert.deepEqual(await imageIds(root2), []);

  const garbage = await lading(root2, ['load'], 'garbage');
  assert.equal(garbage.code, 1);
  assert.match(garbage.err, /Error processing tar file/);
  const missing = await lading(root2, ['load', '-i', join(src, 'missing.tar')]);
  assert.equal(missing.err, `open ${join(src, 'missing.tar')}: no such file or directory\n`);
});

test('an offline bundle made with --have holds only the missing blobs and loads where the inventory came from', async () => {
  const receiver = await mkdtemp(join(work, 'root-'));
  assert.equal((await lading(receiver, ['pull', `${reg.host}/arc/img:1`])).code, 0);
  const inv = await lading(receiver, ['inventory']);
  assert.equal(inv.code, 0);
  const invPath = join(work, 'inventory.txt');
  await writeFile(invPath, inv.out);
  for (const d of [img.manifest.descriptor.digest, img.config.descriptor.digest, ...img.layers.map((l) => l.descriptor.digest)]) assert.ok(inv.out.includes(`${d}\n`));

  const sender = await mkdtemp(join(work, 'root-'));
  assert.equal((await lading(sender, ['pull', `${reg.host}/arc/img2:1`])).code, 0);
  const bundle = join(work, 'bundle.tar');
  const s = await lading(sender, ['save', '--have', invPath, '-o', bundle, `${reg.host}/arc/img2:1`]);
  assert.equal(s.code, 0, s.err);
  const blobs = (await tarNames(bundle)).filter((n) => n.startsWith('blobs/sha256/') && !n.endsWith('/')).sort();
  // Only the new layer, the config and the manifest: the two shared layers stay behind.
  const expected = [img2.layers[2]!.descriptor.digest, img2.config.descriptor.digest, img2.manifest.descriptor.digest].map((d) => `blobs/sha256/${d.slice(7)}`).sort();
  assert.deepEqual(blobs, expected);

  // A store that lacks the shared layers refuses the bundle and loads nothing.
  const stranger = await mkdtemp(join(work, 'root-'));
  const refused = await lading(stranger, ['load', '-i', bundle]);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /incomplete archive: .* needs sha256:[0-9a-f]{64}, which is neither in the archive nor in the local store; nothing was loaded/);
  assert.deepEqual(await imageIds(stranger), []);

  const r = await lading(receiver, ['load', '-i', bundle]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `Loaded image: ${reg.host}/arc/img2:1\n`);
  const li = await inspect(receiver, `${reg.host}/arc/img2:1`);
  assert.equal(li.Id, img2.config.descriptor.digest);
  assert.deepEqual(li.RootFS.Layers, img2.diffIds);
});

test('an imported image saves and loads into Docker with its changes', async () => {
  const root = await mkdtemp(join(work, 'root-'));
  const rootfs = join(root, 'rootfs.tar');
  await writeFile(rootfs, await tarLayer([dir('bin'), file('bin/x', 'x\n')]));
  const imp = await lading(root, ['import', '-c', 'CMD ["/bin/x"]', '-c', 'ENV K=v', rootfs, 'imported:1']);
  assert.equal(imp.code, 0, imp.err);
  const out = join(root, 'imp.tar');
  assert.equal((await lading(root, ['save', '-o', out, 'imported:1'])).code, 0);
  assert.equal((await dockerd.docker(['load', '-i', out])).stdout, 'Loaded image: imported:1\n');
  const di = (JSON.parse((await dockerd.docker(['image', 'inspect', 'imported:1'])).stdout) as Array<{ Id: string; Config: { Cmd: string[]; Env: string[] } }>)[0]!;
  assert.equal(di.Id, imp.out.trim());
  assert.deepEqual(di.Config.Cmd, ['/bin/x']);
  assert.deepEqual(di.Config.Env, ['K=v']);
});
