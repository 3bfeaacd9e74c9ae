// Killed and concurrent pulls against the real distribution registry, through a byte-counting proxy.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/index.js';
import { buildImage, captureIo, file, pushFixture, startCountingProxy, startDistribution, tarLayer, type RunningRegistry } from '../../src/testing/index.js';

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'lading.js');
let reg: RunningRegistry;
let work: string;

before(async () => {
  reg = await startDistribution();
  work = await mkdtemp(join(tmpdir(), 'lading-resume-'));
});
after(async () => {
  await reg?.stop();
  await rm(work, { recursive: true, force: true });
});

function runChild(root: string, args: string[]) {
  const child = spawn(process.execPath, [BIN, '--root', root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal, out })),
  );
  return { child, done };
}

async function ingestBytes(root: string): Promise<number> {
  let total = 0;
  for (const d of await readdir(join(root, 'content', 'ingest')).catch(() => [] as string[])) {
    total += await stat(join(root, 'content', 'ingest', d, 'data')).then((s) => s.size, () => 0);
  }
  return total;
}

async function until(cond: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a pull killed part-way resumes: the second run fetches fewer bytes than the layer', async () => {
  const payload = randomBytes(3 * 1024 * 1024); // incompressible: the blob is about as big
  const img = buildImage({ layers: [await tarLayer([file('big.bin', payload)])] });
  await pushFixture(reg.url, 'resume/img', img, '1');
  const layerSize = img.layers[0]!.descriptor.size;
  const proxy = await startCountingProxy(Number(reg.host.split(':')[1]));
  try {
    const root = await mkdtemp(join(work, 'root-'));
    proxy.stallAfter(1024 * 1024 + 8 * 1024);
    const first = runChild(root, ['pull', `${proxy.host}/resume/img:1`]);
    await until(async () => (await ingestBytes(root)) > 512 * 1024, 'a partial ingest');
    first.child.kill('SIGKILL');
    const r1 = await first.done;
    assert.equal(r1.signal, 'SIGKILL');
    const partial = await ingestBytes(root);
    proxy.stallAfter(undefined);
    const before2 = proxy.bytesDown();
    const io = captureIo({ env: { ...process.env, LADING_ROOT: root } });
    const code = await main(['pull', `${proxy.host}/resume/img:1`], io);
    assert.equal(code, 0, io.err());
    const second = proxy.bytesDown() - before2;
    assert.ok(second < layerSize, `second pull fetched ${second} bytes, layer is ${layerSize}`);
    assert.ok(second <= layerSize - partial + 64 * 1024, `second pull fetched ${second}, expected about ${layerSize - partial}`);
    const ls = captureIo({ env: { ...process.env, LADING_ROOT: root } });
    await main(['images', '-q', '--no-trunc'], ls);
    assert.equal(ls.out(), `${img.config.descriptor.digest}\n`);
  } finally {
    await proxy.close();
  }
});

test('two processes pulling one image at once share one download', async () => {
  const payload = randomBytes(2 * 1024 * 1024);
  const img = buildImage({ layers: [await tarLayer([file('a.bin', payload)]), await tarLayer([file('b.txt', 'b')])] });
  await pushFixture(reg.url, 'concurrent/img', img, '1');
  const layerSize = img.layers[0]!.descriptor.size;
  const proxy = await startCountingProxy(Number(reg.host.split(':')[1]));
  try {
    const root = await mkdtemp(join(work, 'root-'));
    const a = runChild(root, ['pull', `${proxy.host}/concurrent/img:1`]);
    const b = runChild(root, ['pull', `${proxy.host}/concurrent/img:1`]);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    assert.equal(ra.code, 0, ra.out);
    assert.equal(rb.code, 0, rb.out);
    assert.ok(proxy.bytesDown() < 2 * layerSize, `downloaded ${proxy.bytesDown()} bytes for a ${layerSize}-byte layer`);
    const ls = captureIo({ env: { ...process.env, LADING_ROOT: root } });
    await main(['images', '-q', '--no-trunc'], ls);
    assert.equal(ls.out(), `${img.config.descriptor.digest}\n`);
  } finally {
    await proxy.close();
  }
});
