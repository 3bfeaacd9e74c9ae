import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { isCode } from '../errors/index.js';
import { compressZstd, dir, file, hardlink, symlink, tarLayer } from '../testing/index.js';

import { applyLayerFile, idleApplyThreads, prewarmApplyThreads } from './apply-layer-file.js';

const temps: string[] = [];
after(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'lading-applyfile-'));
  temps.push(d);
  return d;
}
const OPTS = { asRoot: process.getuid?.() === 0, whiteouts: 'delete' as const };

describe('applyLayerFile (worker thread)', () => {
  it('unpacks gzip, zstd and plain layer files and reports the diffID of the tar', async () => {
    const tar = await tarLayer([dir('etc'), file('etc/hosts', 'x'.repeat(100_000)), symlink('etc/l', 'hosts'), hardlink('etc/h', 'etc/hosts')]);
    const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
    for (const [name, bytes] of [['plain', tar], ['gzip', gzipSync(tar)], ['zstd', await compressZstd(tar)]] as const) {
      const work = tmp();
      const blob = join(work, 'blob');
      writeFileSync(blob, bytes);
      const root = join(work, 'root');
      mkdirSync(root);
      const seen: number[] = [];
      const r = await applyLayerFile(root, blob, { ...OPTS, onProgress: (n) => seen.push(n) });
      assert.equal(r.diffId, diffId, name);
      assert.equal(r.bytes, tar.length, name);
      assert.equal(readFileSync(join(root, 'etc/hosts'), 'utf8').length, 100_000, name);
      assert.equal(readlinkSync(join(root, 'etc/l')), 'hosts', name);
      assert.equal(lstatSync(join(root, 'etc/h')).ino, lstatSync(join(root, 'etc/hosts')).ino, name);
      assert.equal(seen.at(-1), bytes.length, `${name}: progress ends at the file size`);
    }
  });

  it('carries the worker error code across the thread boundary, and writes nothing outside', async () => {
    const work = tmp();
    const root = join(work, 'root');
    mkdirSync(root);
    const blob = join(work, 'blob');
    writeFileSync(blob, gzipSync(await tarLayer([symlink('up', '/'), hardlink('x', '../../etc/passwd')])));
    await assert.rejects(applyLayerFile(root, blob, OPTS), (e) => isCode(e, 'INVALID_ARGUMENT') && /hardlink target/.test((e as Error).message));
    writeFileSync(blob, Buffer.from('this is not a tar file, not gzip, not zstd'.repeat(20)));
    await assert.rejects(applyLayerFile(root, blob, OPTS), (e) => isCode(e, 'INVALID_ARGUMENT'));
    assert.equal(existsSync(join(work, 'x')), false);
  });

  it('cancels: the promise settles only after the thread stopped', async () => {
    const work = tmp();
    const root = join(work, 'root');
    mkdirSync(root);
    const blob = join(work, 'blob');
    const entries = Array.from({ length: 3000 }, (_, i) => file(`d/f${i}`, `${i}`));
    writeFileSync(blob, gzipSync(await tarLayer(entries)));
    const ctl = new AbortController();
    const p = applyLayerFile(root, blob, { ...OPTS, signal: ctl.signal, onProgress: () => ctl.abort() });
    await assert.rejects(p, (e) => isCode(e, 'CANCELED'));
    const n = existsSync(join(root, 'd')) ? (await import('node:fs')).readdirSync(join(root, 'd')).length : 0;
    await new Promise((r) => setTimeout(r, 50));
    const m = existsSync(join(root, 'd')) ? (await import('node:fs')).readdirSync(join(root, 'd')).length : 0;
    assert.equal(m, n, 'nothing is written after the promise settled');
  });

  it('refuses at once when already cancelled, and reports a missing file', async () => {
    const root = tmp();
    await assert.rejects(applyLayerFile(root, join(root, 'nope'), { ...OPTS, signal: AbortSignal.abort() }), (e) => isCode(e, 'CANCELED'));
    await assert.rejects(applyLayerFile(root, join(root, 'nope'), OPTS), (e) => isCode(e, 'INTERNAL') && /ENOENT/.test((e as Error).message));
  });

  it('keeps a thread for the next job; a failed job keeps it too, a cancelled one ends it', async () => {
    const work = tmp();
    const blob = join(work, 'blob');
    writeFileSync(blob, gzipSync(await tarLayer([dir('a'), file('a/b', 'bee')])));
    const fresh = (): string => mkdtempSync(join(work, 'root-'));
    await applyLayerFile(fresh(), blob, OPTS);
    const parked = idleApplyThreads();
    assert.ok(parked >= 1, 'a thread that finished is parked');
    const root = fresh();
    await applyLayerFile(root, blob, OPTS);
    assert.equal(idleApplyThreads(), parked, 'the parked thread was taken and parked again, no new one started');
    assert.equal(readFileSync(join(root, 'a/b'), 'utf8'), 'bee');

    await assert.rejects(applyLayerFile(join(work, 'missing'), blob, OPTS), (e) => isCode(e, 'NOT_FOUND'));
    assert.equal(idleApplyThreads(), parked, 'an error reported by the job leaves the thread usable');

    const many = join(work, 'many');
    writeFileSync(many, gzipSync(await tarLayer(Array.from({ length: 3000 }, (_, i) => file(`d/f${i}`, `${i}`)))));
    const ctl = new AbortController();
    await assert.rejects(applyLayerFile(fresh(), many, { ...OPTS, signal: ctl.signal, onProgress: () => ctl.abort() }), (e) => isCode(e, 'CANCELED'));
    assert.equal(idleApplyThreads(), parked - 1, 'the cancelled thread was terminated, not parked');
    const again = fresh();
    await applyLayerFile(again, blob, OPTS);
    assert.equal(readFileSync(join(again, 'a/b'), 'utf8'), 'bee');
  });

  it('boots threads ahead of the jobs', async () => {
    prewarmApplyThreads(2);
    assert.ok(idleApplyThreads() >= 2);
    const n = idleApplyThreads();
    const work = tmp();
    const blob = join(work, 'blob');
    writeFileSync(blob, gzipSync(await tarLayer([file('x', 'y')])));
    await Promise.all([0, 1].map(async (i) => {
      const root = join(work, `r${i}`);
      mkdirSync(root);
      await applyLayerFile(root, blob, OPTS);
      assert.equal(readFileSync(join(root, 'x'), 'utf8'), 'y');
    }));
    assert.equal(idleApplyThreads(), n, 'both jobs ran on booted threads');
  });
});
