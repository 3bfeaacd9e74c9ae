// Interrupted pushes resume on the next run from the offset distribution reports for the upload
// URL lading remembered, through a request-buffering proxy (nginx's default in front of a registry).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { main } from '../../src/cli/index.js';
import { openDatabase, tags } from '../../src/metadata/index.js';
import {
  buildImage,
  captureIo,
  file,
  pushFixture,
  requireTool,
  startBufferingProxy,
  startDistribution,
  tarLayer,
  type FixtureImage,
  type RunningRegistry,
} from '../../src/testing/index.js';

const run = promisify(execFile);
const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'lading.js');
const CHUNK = 256 * 1024;
let src: RunningRegistry;
let dst: RunningRegistry;
let work: string;
let img: FixtureImage;
let skopeo: string;

before(async () => {
  skopeo = await requireTool('skopeo', 'apt-get install -y skopeo');
  [src, dst] = await Promise.all([startDistribution(), startDistribution()]);
  work = await mkdtemp(join(tmpdir(), 'lading-push-resume-'));
  img = buildImage({ layers: [await tarLayer([file('big.bin', randomBytes(3 * 1024 * 1024))])] });
  await pushFixture(src.url, 'src/img', img, '1');
});
after(async () => {
  await Promise.all([src?.stop(), dst?.stop()]);
  await rm(work, { recursive: true, force: true });
});

const envFor = (root: string) => ({ ...process.env, LADING_ROOT: root, LADING_PUSH_CHUNK_SIZE: String(CHUNK) });

async function lading(root: string, args: string[]) {
  const io = captureIo({ env: envFor(root) });
  // node:test sets process.exitCode after a failed test, which main() would report as ours.
  process.exitCode = undefined;
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

async function prepared(repo: string): Promise<string> {
  const root = await mkdtemp(join(work, 'root-'));
  const pulled = await lading(root, ['pull', `${src.host}/src/img:1`]);
  assert.equal(pulled.code, 0, pulled.err);
  const db = openDatabase(join(root, 'lading.db'));
  try {
    db.tx((tx) => tags.set(tx, repo, '1', img.config.descriptor.digest));
  } finally {
    db.close();
  }
  return root;
}

/** Checked on the registry itself: skopeo tries TLS first, which the plain-HTTP proxy cannot answer. */
async function pushedIntact(ref: string): Promise<void> {
  const { stdout } = await run(skopeo, ['inspect', '--tls-verify=false', `docker://${ref}`]);
  assert.equal((JSON.parse(stdout) as { Digest: string }).Digest, img.manifest.descriptor.digest);
  // skopeo verifies every blob's digest as it copies.
  const out = await mkdtemp(join(work, 'oci-'));
  await run(skopeo, ['copy', '--src-tls-verify=false', `docker://${ref}`, `oci:${out}:x`]);
}

const layerSize = () => img.layers[0]!.descriptor.size;

test('a push whose connection drops mid-layer resumes on the next run and sends fewer bytes', async () => {
  const proxy = await startBufferingProxy(Number(dst.host.split(':')[1]));
  try {
    const repo = `${proxy.host}/drop/img`;
    const root = await prepared(repo);
    // Let about four chunks through, then hold the next one and drop every connection.
    proxy.stallAfter(4 * CHUNK + 16 * 1024);
    const first = lading(root, ['push', `${repo}:1`]);
    await proxy.whenHolding(CHUNK / 2);
    proxy.cut();
    const r1 = await first;
    assert.equal(r1.code, 1, r1.out);
    assert.ok(r1.err.length > 0);
    assert.ok((await readdir(join(root, 'uploads'))).length === 1, 'the unfinished upload is remembered');
    proxy.restore();
    proxy.stallAfter(undefined);
    const before2 = proxy.bytesUp();
    const r2 = await lading(root, ['push', `${repo}:1`]);
    assert.equal(r2.code, 0, r2.err);
    const sent = proxy.bytesUp() - before2;
    assert.ok(sent < layerSize() - 3 * CHUNK, `second push sent ${sent} bytes for a ${layerSize()}-byte layer`);
    assert.deepEqual(await readdir(join(root, 'uploads')), [], 'finished uploads are forgotten');
    await pushedIntact(`${dst.host}/${repo.split('/').slice(1).join('/')}:1`);
  } finally {
    await proxy.close();
  }
});

test('a push whose process is killed mid-layer resumes on the next run and sends fewer bytes', async () => {
  const proxy = await startBufferingProxy(Number(dst.host.split(':')[1]));
  try {
    const repo = `${proxy.host}/kill/img`;
    const root = await prepared(repo);
    proxy.stallAfter(5 * CHUNK + 16 * 1024);
    const child = spawn(process.execPath, [BIN, 'push', `${repo}:1`], { env: envFor(root), stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, s) => r(s)));
    await proxy.whenHolding(CHUNK / 2);
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    proxy.stallAfter(undefined);
    const before2 = proxy.bytesUp();
    const r2 = await lading(root, ['push', `${repo}:1`]);
    assert.equal(r2.code, 0, r2.err);
    const sent = proxy.bytesUp() - before2;
    assert.ok(sent < layerSize() - 4 * CHUNK, `second push sent ${sent} bytes for a ${layerSize()}-byte layer`);
    await pushedIntact(`${dst.host}/${repo.split('/').slice(1).join('/')}:1`);
  } finally {
    await proxy.close();
  }
});
