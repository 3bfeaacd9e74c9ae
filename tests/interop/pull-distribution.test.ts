// Pulls from the CNCF distribution registry (Debian docker-registry), a real independent peer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readdir, readFile, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { main } from '../../src/cli/index.js';
import { createEngine, resolveConfig } from '../../src/engine/index.js';
import {
  buildImage,
  buildIndex,
  captureIo,
  dir,
  file,
  opaque,
  pushFixture,
  raw,
  startDistribution,
  symlink,
  tarLayer,
  whiteout,
  type RunningRegistry,
} from '../../src/testing/index.js';

let reg: RunningRegistry;
let work: string;

before(async () => {
  reg = await startDistribution();
  work = await mkdtemp(join(tmpdir(), 'lading-pull-'));
});
after(async () => {
  await reg?.stop();
  await rm(work, { recursive: true, force: true });
});

let n = 0;
async function freshRoot(): Promise<string> {
  return mkdtemp(join(work, `root${n++}-`));
}

async function lading(root: string, args: string[], o: { tty?: boolean } = {}) {
  const io = captureIo({ env: { ...process.env, LADING_ROOT: root, DOCKER_CONFIG: join(root, '.docker') }, ...o });
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

const base = () => tarLayer([dir('etc'), file('etc/os-release', 'NAME=test\n'), dir('bin'), file('bin/tool', '#!/bin/sh\necho tool\n', { mode: 0o755 })]);

describe('pull from distribution', () => {
  test('single-layer OCI image by tag: Docker output, images and inspect', async () => {
    const img = buildImage({ layers: [await base()], config: { Labels: { a: 'b' } } });
    await pushFixture(reg.url, 'one/oci', img, 'v1');
    const root = await freshRoot();
    const r = await lading(root, ['pull', `${reg.host}/one/oci:v1`]);
    assert.equal(r.err, '');
    assert.equal(r.code, 0);
    const id = img.layers[0]!.descriptor.digest.slice(7, 19);
    assert.equal(
      r.out,
      [
        `v1: Pulling from one/oci`,
        `${id}: Pulling fs layer`,
        `${id}: Verifying Checksum`,
        `${id}: Download complete`,
        `${id}: Pull complete`,
        `Digest: ${img.manifest.descriptor.digest}`,
        `Status: Downloaded newer image for ${reg.host}/one/oci:v1`,
        `${reg.host}/one/oci:v1`,
        '',
      ].join('\n'),
    );
    const again = await lading(root, ['pull', `${reg.host}/one/oci:v1`]);
    assert.equal(
      again.out,
      [`v1: Pulling from one/oci`, `Digest: ${img.manifest.descriptor.digest}`, `Status: Image is up to date for ${reg.host}/one/oci:v1`, `${reg.host}/one/oci:v1`, ''].join('\n'),
    );
    const q = await lading(root, ['pull', '-q', `${reg.host}/one/oci:v1`]);
    assert.equal(q.out, `${reg.host}/one/oci:v1\n`);

    const list = await lading(root, ['images']);
    const lines = list.out.split('\n');
    assert.match(lines[0]!, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.match(lines[1]!, new RegExp(`^${reg.host}/one/oci\\s+v1\\s+${img.config.descriptor.digest.slice(7, 19)}\\s+\\S.* ago\\s+\\d+B$`));

    const ins = await lading(root, ['image', 'inspect', `${reg.host}/one/oci:v1`]);
    assert.equal(ins.code, 0);
    const [doc] = JSON.parse(ins.out) as Array<Record<string, unknown>>;
    assert.equal(doc!.Id, img.config.descriptor.digest);
    assert.deepEqual(doc!.RepoTags, [`${reg.host}/one/oci:v1`]);
    assert.deepEqual(doc!.RepoDigests, [`${reg.host}/one/oci@${img.manifest.descriptor.digest}`]);
    assert.deepEqual((doc!.RootFS as { Layers: string[] }).Layers, img.diffIds);
    assert.equal(doc!.Architecture, 'amd64');
    assert.equal(doc!.Os, 'linux');
    assert.equal(doc!.Created, '2024-01-02T03:04:05.123456789Z');
    assert.deepEqual((doc!.Config as { Labels: unknown }).Labels, { a: 'b' });
    assert.equal(doc!.Size, 'NAME=test\n'.length + '#!/bin/sh\necho tool\n'.length);
  });

  test('Docker schema 2, several layers, shared layers print Already exists', async () => {
    const l1 = await base();
    const l2 = await tarLayer([dir('app'), file('app/a.txt', 'a')]);
    const l3 = await tarLayer([file('app/b.txt', 'b')]);
    const first = buildImage({ layers: [l1, l2], format: 'docker' });
    const second = buildImage({ layers: [l1, l2, l3], format: 'docker', created: '2024-02-01T00:00:00Z' });
    await pushFixture(reg.url, 'multi/app', first, '1');
    await pushFixture(reg.url, 'multi/app', second, '2');
    const root = await freshRoot();
    assert.equal((await lading(root, ['pull', `${reg.host}/multi/app:1`])).code, 0);
    const r = await lading(root, ['pull', `${reg.host}/multi/app:2`]);
    assert.equal(r.code, 0, r.err);
    const ids = second.layers.map((l) => l.descriptor.digest.slice(7, 19));
    const lines = r.out.split('\n');
    assert.deepEqual(lines.slice(0, 3), ['2: Pulling from multi/app', `${ids[0]}: Already exists`, `${ids[1]}: Already exists`]);
    assert.ok(lines.includes(`${ids[2]}: Pull complete`));
    const engine = createEngine(resolveConfig({ flags: { root }, env: {} }));
    try {
      const tree = await engine.readImageTree(`${reg.host}/multi/app:2`);
      assert.deepEqual(
        [...tree.keys()].sort(),
        ['app', 'app/a.txt', 'app/b.txt', 'bin', 'bin/tool', 'etc', 'etc/os-release'],
      );
    } finally {
      engine.close();
    }
  });

  test('whiteouts and opaque directories: the stack reads as one filesystem, top layer wins', async () => {
    const l1 = await tarLayer([dir('a'), file('a/keep', '1'), file('a/gone', '2'), dir('o'), file('o/old', '3'), file('x', 'lower'), symlink('ln', 'x')]);
    const l2 = await tarLayer([whiteout('a/gone'), opaque('o'), file('o/new', '4'), file('x', 'upper'), whiteout('ln')]);
    const img = buildImage({ layers: [l1, l2], compression: ['gzip', 'zstd'] });
    await pushFixture(reg.url, 'wh/img', img, 'latest');
    const root = await freshRoot();
    const r = await lading(root, ['pull', `${reg.host}/wh/img`]);
    assert.equal(r.code, 0, r.err);
    assert.ok(r.out.startsWith('Using default tag: latest\nlatest: Pulling from wh/img\n'));
    const engine = createEngine(resolveConfig({ flags: { root }, env: {} }));
    try {
      const tree = await engine.readImageTree(`${reg.host}/wh/img:latest`);
      assert.deepEqual([...tree.keys()].sort(), ['a', 'a/keep', 'o', 'o/new', 'x']);
      assert.equal(tree.get('x')!.sha256, createHash('sha256').update('upper').digest('hex'));
    } finally {
      engine.close();
    }
  });

  test('big layers unpack in worker threads, in parallel where the snapshotter allows, with the same tree', async () => {
    // Random bytes do not compress: each layer blob is over the 1 MiB worker threshold.
    const pad = (n: number) => file(`pad${n}`, randomBytes(1536 * 1024));
    const l1 = await tarLayer([dir('a'), file('a/keep', '1'), file('a/gone', '2'), dir('o'), file('o/old', '3'), file('x', 'lower'), pad(1)]);
    const l2 = await tarLayer([whiteout('a/gone'), opaque('o'), file('o/new', '4'), file('x', 'middle'), pad(2)]);
    const l3 = await tarLayer([file('x', 'upper'), whiteout('pad1'), pad(3)]);
    const img = buildImage({ layers: [l1, l2, l3], compression: ['gzip', 'zstd', 'gzip'] });
    await pushFixture(reg.url, 'big/img', img, 'latest');
    for (const snapshotter of ['overlay', 'native'] as const) {
      const root = await freshRoot();
      const r = await lading(root, ['--snapshotter', snapshotter, 'pull', `${reg.host}/big/img`]);
      assert.equal(r.code, 0, r.err);
      const completes = r.out.split('\n').filter((l) => l.endsWith(': Pull complete')).map((l) => l.slice(0, 12));
      assert.deepEqual(completes, img.layers.map((l) => l.descriptor.digest.slice(7, 19)), `${snapshotter}: completes in layer order`);
      const engine = createEngine(resolveConfig({ flags: { root, snapshotter }, env: {} }));
      try {
        const tree = await engine.readImageTree(`${reg.host}/big/img:latest`);
        assert.deepEqual([...tree.keys()].sort(), ['a', 'a/keep', 'o', 'o/new', 'pad2', 'pad3', 'x'], snapshotter);
        assert.equal(tree.get('x')!.sha256, createHash('sha256').update('upper').digest('hex'), snapshotter);
      } finally {
        engine.close();
      }
    }
  });

  test('Docker Hub names are served by a configured registry mirror (flag or config file)', async () => {
    const img = buildImage({ layers: [await base()] });
    await pushFixture(reg.url, 'library/mirrored', img, '1.0');
    const root = await freshRoot();
    const r = await lading(root, ['--registry-mirror', `http://${reg.host}`, 'pull', 'mirrored:1.0']);
    assert.equal(r.code, 0, r.err);
    assert.ok(r.out.startsWith('1.0: Pulling from library/mirrored\n'), r.out);
    assert.ok(r.out.endsWith(`Status: Downloaded newer image for mirrored:1.0\ndocker.io/library/mirrored:1.0\n`), r.out);
    const config = join(root, 'config.json');
    await writeFile(config, JSON.stringify({ 'registry-mirrors': [`http://${reg.host}`] }));
    const again = await lading(root, ['--config', config, 'pull', 'docker.io/library/mirrored:1.0']);
    assert.equal(again.code, 0, again.err);
    assert.ok(again.out.includes('Status: Image is up to date for mirrored:1.0\n'), again.out);
    const plain = await lading(root, ['images']);
    assert.match(plain.out.split('\n')[1]!, /^mirrored\s+1\.0\s/);
  });

  test('multi-platform index: host platform, --platform, pull by digest, no match', async () => {
    const amd = buildImage({ layers: [await tarLayer([file('arch', 'amd64')])], platform: { os: 'linux', architecture: 'amd64' } });
    const arm = buildImage({ layers: [await tarLayer([file('arch', 'arm64')])], platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    const idx = buildIndex([amd, arm]);
    await pushFixture(reg.url, 'plat/img', idx, 'multi');
    const root = await freshRoot();
    const r = await lading(root, ['pull', '--platform', 'linux/arm64', `${reg.host}/plat/img:multi`]);
    assert.equal(r.code, 0, r.err);
    assert.ok(r.out.includes(`Digest: ${idx.index.descriptor.digest}\n`));
    const ins = JSON.parse((await lading(root, ['image', 'inspect', `${reg.host}/plat/img:multi`])).out) as Array<{ Id: string; Architecture: string }>;
    assert.equal(ins[0]!.Id, arm.config.descriptor.digest);
    assert.equal(ins[0]!.Architecture, 'arm64');

    const bad = await lading(root, ['pull', '--platform', 'linux/s390x', `${reg.host}/plat/img:multi`]);
    assert.equal(bad.code, 1);
    assert.equal(bad.err, 'no matching manifest for linux/s390x in the manifest list entries\n');

    const byDigest = `${reg.host}/plat/img@${amd.manifest.descriptor.digest}`;
    const d = await lading(root, ['pull', byDigest]);
    assert.equal(d.code, 0, d.err);
    assert.ok(d.out.startsWith(`${byDigest}: Pulling from plat/img\n`));
    assert.ok(d.out.endsWith(`Status: Downloaded newer image for ${byDigest}\n${byDigest}\n`));
    const list = (await lading(root, ['images', '--digests'])).out;
    assert.match(list, new RegExp(`${reg.host}/plat/img\\s+<none>\\s+${amd.manifest.descriptor.digest}\\s+${amd.config.descriptor.digest.slice(7, 19)}`));
  });

  test('errors in Docker wording: unknown tag, unknown repository, unreachable registry, bad reference', async () => {
    const root = await freshRoot();
    const tag = await lading(root, ['pull', `${reg.host}/one/oci:nope`]);
    assert.equal(tag.code, 1);
    assert.equal(tag.err, `Error response from daemon: manifest for ${reg.host}/one/oci:nope not found: manifest unknown: manifest unknown\n`);
    const repo = await lading(root, ['pull', `${reg.host}/no/such`]);
    assert.equal(repo.code, 1);
    assert.equal(repo.out, 'Using default tag: latest\nlatest: Pulling from no/such\n');
    assert.match(repo.err, new RegExp(`^Error response from daemon: manifest for ${reg.host}/no/such:latest not found: manifest unknown: `));
    const down = await lading(root, ['pull', '127.0.0.1:1/x:1']);
    assert.equal(down.code, 1);
    assert.equal(down.err, 'Error response from daemon: Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused\n');
    const badRef = await lading(root, ['pull', 'Foo']);
    assert.equal(badRef.code, 1);
    assert.equal(badRef.err, 'invalid reference format: repository name (library/Foo) must be lowercase\n');
    const list = await lading(root, ['images', '-q']);
    assert.equal(list.out, '');
  });

  test('a corrupted blob is refused, nothing is recorded, and the next pull succeeds', async () => {
    const layer = await tarLayer([file('data.bin', Buffer.alloc(4096, 7))]);
    const img = buildImage({ layers: [layer] });
    await pushFixture(reg.url, 'corrupt/img', img, '1');
    const hex = img.layers[0]!.descriptor.digest.slice(7);
    const blobFile = join(reg.dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
    const good = await readFile(blobFile);
    const bad = Buffer.from(good);
    bad[bad.length - 5] = bad[bad.length - 5]! ^ 0xff;
    await writeFile(blobFile, bad);
    const root = await freshRoot();
    const r = await lading(root, ['pull', `${reg.host}/corrupt/img:1`]);
    assert.equal(r.code, 1);
    assert.match(r.err, /digest mismatch/);
    assert.equal((await lading(root, ['images', '-q'])).out, '');
    const blobs = await readdir(join(root, 'content', 'blobs', 'sha256')).catch(() => [] as string[]);
    assert.ok(!blobs.includes(hex), 'the corrupt layer must not become visible content');
    await writeFile(blobFile, good);
    const ok = await lading(root, ['pull', `${reg.host}/corrupt/img:1`]);
    assert.equal(ok.code, 0, ok.err + ok.out);
    assert.match((await lading(root, ['images', '-q'])).out, new RegExp(`^${img.config.descriptor.digest.slice(7, 19)}\n$`));
  });

  test('a corrupt config fails the pull; layer downloads started beside it stop and nothing stays locked', async () => {
    const layers = [await tarLayer([file('a.bin', randomBytes(256 * 1024))]), await tarLayer([file('b.bin', randomBytes(256 * 1024))])];
    const img = buildImage({ layers });
    await pushFixture(reg.url, 'corrupt/config', img, '1');
    const hex = img.config.descriptor.digest.slice(7);
    const configFile = join(reg.dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
    const good = await readFile(configFile);
    await writeFile(configFile, Buffer.from(good.toString('utf8').replace('"amd64"', '"arm64"')));
    try {
      const root = await freshRoot();
      const r = await lading(root, ['pull', `${reg.host}/corrupt/config:1`]);
      assert.equal(r.code, 1);
      assert.match(r.err, /digest mismatch/);
      assert.equal((await lading(root, ['images', '-q'])).out, '');
      // Whatever the layer downloads got to (committed, partial or not begun), none is running.
      const dir = join(root, 'content', 'ingest');
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        assert.ok(!(await readdir(join(dir, name))).includes('lock'), `ingest ${name} is still locked`);
      }
    } finally {
      await writeFile(configFile, good);
    }
  });

  test('hostile layer entries never write outside the snapshot', async () => {
    const outside = join(work, 'outside-target');
    const layer = await tarLayer([
      raw({ name: '../../../../../../../../tmp/lading-escape-dotdot', type: 'file' }, 'x'),
      raw({ name: `/${outside.slice(1)}/abs`, type: 'file' }, 'x'),
      symlink('esc', outside),
      raw({ name: 'esc/through-symlink', type: 'file' }, 'x'),
      raw({ name: 'hl', type: 'link', linkname: '../../../../etc/passwd' }),
    ]);
    const img = buildImage({ layers: [layer] });
    await pushFixture(reg.url, 'hostile/img', img, '1');
    const root = await freshRoot();
    await lading(root, ['pull', `${reg.host}/hostile/img:1`]);
    await assert.rejects(stat('/tmp/lading-escape-dotdot'));
    await assert.rejects(stat(outside));
  });

  test('the library entry point pulls and lists through createEngine', async () => {
    // Self-reference through package.json "exports": what `import ... from "lading"` loads.
    const lading = (await import('lading')) as typeof import('../../src/index.js');
    const img = buildImage({ layers: [await base()] });
    await pushFixture(reg.url, 'lib/img', img, '3');
    const root = await freshRoot();
    const engine = lading.createEngine(lading.resolveConfig({ flags: { root }, env: {} }));
    try {
      const events: string[] = [];
      const res = await engine.pull(`${reg.host}/lib/img:3`, { onProgress: (e) => events.push(e.kind === 'layer' ? e.action : e.text) });
      assert.equal(res.id, img.config.descriptor.digest);
      assert.equal(res.digest, img.manifest.descriptor.digest);
      assert.equal(res.updated, true);
      assert.deepEqual(events.slice(-2), [`Digest: ${img.manifest.descriptor.digest}`, `Status: Downloaded newer image for ${reg.host}/lib/img:3`]);
      assert.ok(events.includes('downloading') && events.includes('extracting'));
      const listed = engine.listImages();
      assert.deepEqual(listed.map((i) => i.id), [img.config.descriptor.digest]);
      await assert.rejects(() => Promise.resolve().then(() => engine.inspectImage('nosuch')), (e: unknown) => {
        assert.ok(lading.isCode(e, 'NOT_FOUND'));
        assert.equal((e as Error).message, 'No such image: nosuch:latest');
        return true;
      });
    } finally {
      engine.close();
    }
  });
});
