// Image management on images pulled from the CNCF distribution registry: shared layers, tags moved
// by pulls, and removal racing a pull in another process.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/index.js';
import { createEngine, resolveConfig } from '../../src/engine/index.js';
import { buildImage, captureIo, dir, file, pushFixture, startDistribution, tarLayer, type RunningRegistry } from '../../src/testing/index.js';

const BIN = resolve(fileURLToPath(import.meta.url), '..', '..', '..', '..', 'bin', 'lading.js');

let reg: RunningRegistry;
let work: string;
before(async () => {
  reg = await startDistribution();
  work = await mkdtemp(join(tmpdir(), 'lading-manage-reg-'));
});
after(async () => {
  await reg?.stop();
  await rm(work, { recursive: true, force: true });
});

let n = 0;
const freshRoot = () => join(work, `root${n++}`);
const env = (root: string) => ({ ...process.env, LADING_ROOT: root, LADING_SNAPSHOTTER: 'native', DOCKER_CONFIG: join(root, '.docker') });

async function lading(root: string, args: string[]) {
  const io = captureIo({ env: env(root) });
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

/** `lading ARGS` in a child process, as another CLI invocation on the same store would run. */
function ladingChild(root: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: env(root), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, out }));
  });
}

async function treeOf(root: string, name: string): Promise<string[]> {
  const engine = createEngine(resolveConfig({ flags: { root }, env: { LADING_SNAPSHOTTER: 'native' } }));
  try {
    return [...(await engine.readImageTree(name)).keys()].sort();
  } finally {
    engine.close();
  }
}

describe('manage pulled images', () => {
  test('a shared layer survives removing one image; a pull that moves a tag leaves the old image dangling', async () => {
    const base = await tarLayer([dir('etc'), file('etc/os-release', 'NAME=test\n')]);
    const a = buildImage({ layers: [base, await tarLayer([file('a', 'a')])], created: '2024-01-01T00:00:00Z' });
    const b = buildImage({ layers: [base, await tarLayer([file('b', 'b')])], created: '2024-01-02T00:00:00Z' });
    await pushFixture(reg.url, 'm/app', a, 'a');
    await pushFixture(reg.url, 'm/app', b, 'b');
    const root = freshRoot();
    assert.equal((await lading(root, ['pull', `${reg.host}/m/app:a`])).code, 0);
    assert.equal((await lading(root, ['pull', `${reg.host}/m/app:b`])).code, 0);
    const r = await lading(root, ['rmi', `${reg.host}/m/app:a`]);
    assert.equal(r.code, 0, r.err);
    // Only a's own layer is listed; the base (chain ID = diff ID) stays for b.
    assert.ok(!r.out.includes(`Deleted: ${a.diffIds[0]}`), r.out);
    assert.match(r.out, new RegExp(`^Untagged: ${reg.host}/m/app:a\nUntagged: ${reg.host}/m/app@${a.manifest.descriptor.digest}\nDeleted: ${a.config.descriptor.digest}\nDeleted: sha256:\\w+\n$`));
    assert.deepEqual(await treeOf(root, `${reg.host}/m/app:b`), ['b', 'etc', 'etc/os-release']);
    assert.equal((await lading(root, ['system', 'check'])).out, 'no problems found\n');

    // Push another image under tag b and pull it: the old b keeps its digest, shows as <none>, is dangling.
    const b2 = buildImage({ layers: [base, await tarLayer([file('b', 'b2')])], created: '2024-01-03T00:00:00Z' });
    await pushFixture(reg.url, 'm/app', b2, 'b');
    assert.equal((await lading(root, ['pull', `${reg.host}/m/app:b`])).code, 0);
    const d = await lading(root, ['images', '--filter', 'dangling=true', '--format', '{{.Repository}} {{.Tag}} {{.ID}}']);
    assert.equal(d.out, `${reg.host}/m/app <none> ${b.config.descriptor.digest.slice(7, 19)}\n`);
    const p = await lading(root, ['image', 'prune', '-f']);
    assert.match(p.out, new RegExp(`^Deleted Images:\nuntagged: ${reg.host}/m/app@${b.manifest.descriptor.digest}\ndeleted: ${b.config.descriptor.digest}\n`));
    assert.deepEqual(await treeOf(root, `${reg.host}/m/app:b`), ['b', 'etc', 'etc/os-release']);
    assert.equal((await lading(root, ['system', 'check'])).out, 'no problems found\n');
  });

  test('removal racing a pull in another process leaves a consistent store and a complete image', async () => {
    const base = await tarLayer([dir('usr'), file('usr/base.bin', randomBytes(256 * 1024).toString('base64'))]);
    const mid = await tarLayer([file('usr/mid.bin', randomBytes(128 * 1024).toString('base64'))]);
    const first = buildImage({ layers: [base, mid, await tarLayer([file('one', '1')])] });
    const second = buildImage({ layers: [base, mid, await tarLayer([file('two', '2')])], created: '2024-05-01T00:00:00Z' });
    await pushFixture(reg.url, 'race/app', first, 'one');
    await pushFixture(reg.url, 'race/app', second, 'two');
    const root = freshRoot();
    for (let round = 0; round < 4; round++) {
      // The store holds `one`; another process pulls `two` (sharing two layers) while this one
      // removes `one`, then prunes everything unused.
      assert.equal((await lading(root, ['pull', '-q', `${reg.host}/race/app:one`])).code, 0);
      const pulling = ladingChild(root, ['pull', '-q', `${reg.host}/race/app:two`]);
      const rmi = await lading(root, ['rmi', '-f', `${reg.host}/race/app:one`]);
      assert.equal(rmi.code, 0, rmi.err);
      const prune = await lading(root, ['image', 'prune', '-f']);
      assert.equal(prune.code, 0, prune.err);
      const pulled = await pulling;
      assert.equal(pulled.code, 0, pulled.out);
      assert.deepEqual(await treeOf(root, `${reg.host}/race/app:two`), ['one', 'usr', 'usr/base.bin', 'usr/mid.bin'].map((x) => (x === 'one' ? 'two' : x)).sort());
      const check = await lading(root, ['system', 'check']);
      assert.deepEqual([check.code, check.out], [0, 'no problems found\n'], `round ${round}`);
      assert.equal((await lading(root, ['rmi', `${reg.host}/race/app:two`])).code, 0);
    }
    assert.equal((await lading(root, ['images', '-a', '-q'])).out, '');
    assert.equal((await lading(root, ['system', 'check'])).out, 'no problems found\n');
  });
});
