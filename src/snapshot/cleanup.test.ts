import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSnapshotter } from './create-snapshotter.js';

test('cleanup removes what dead processes left and keeps work in progress', async () => {
  const root = mkdtempSync(join(tmpdir(), 'lading-snap-cleanup-'));
  try {
    const sn = createSnapshotter(root, { kind: 'native' });
    // A pid that surely exited: a child we already waited for.
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    await sn.prepare(`extract-${deadPid}-aaaa-sha256:x`, undefined, { extract: true });
    await sn.prepare(`extract-${process.pid}-bbbb-sha256:y`, undefined, { extract: true });
    await sn.prepare('container-1', undefined);
    mkdirSync(join(root, 'snapshots', '.new-fresh'));
    const later = Date.now() + 60 * 60 * 1000;
    await sn.cleanup({ graceMs: 10 * 60 * 1000 });
    const keys = new Set<string>();
    for await (const s of sn.walk()) keys.add(s.key);
    assert.deepEqual([...keys].sort(), ['container-1', `extract-${process.pid}-bbbb-sha256:y`]);
    assert.ok(readdirSync(join(root, 'snapshots')).includes('.new-fresh'), 'a young .new- dir may belong to a running prepare');
    await sn.cleanup({ graceMs: 10 * 60 * 1000, now: later });
    assert.ok(!readdirSync(join(root, 'snapshots')).some((n) => n.startsWith('.new-')), '.new- dirs past the grace period are swept');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('cleanup looks at marked active snapshots; an unmarked store is swept in full once', async () => {
  const root = mkdtempSync(join(tmpdir(), 'lading-snap-cleanup-'));
  const snaps = join(root, 'snapshots');
  const dirOf = (key: string) => join(snaps, createHash('sha256').update(key).digest('hex'));
  try {
    const sn = createSnapshotter(root, { kind: 'overlay' });
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    const live = `extract-${process.pid}-cccc-sha256:z`;
    await sn.prepare(live, undefined, { extract: true });
    await sn.commit('sha256:done', live);
    assert.deepEqual(readdirSync(join(snaps, '.active')), [], 'a commit takes its marker away');

    // A commit cut between writing the new info and the rename: the directory names another key.
    // A live commit passes through the same state, so only one older than the grace period goes.
    await sn.cleanup();
    const cut = `extract-${process.pid}-dddd-sha256:w`;
    await sn.prepare(cut, undefined, { extract: true });
    const info = join(dirOf(cut), 'info.json');
    writeFileSync(info, readFileSync(info, 'utf8').replace(cut, 'sha256:w').replace('"active"', '"committed"'));
    await sn.cleanup();
    assert.ok(readdirSync(snaps).includes(createHash('sha256').update(cut).digest('hex')), 'a commit in progress is left alone');
    // A marker whose snapshot never appeared (killed before the rename), old enough to go.
    writeFileSync(join(snaps, '.active', 'f'.repeat(64)), '');
    await sn.cleanup({ now: Date.now() + 60 * 60 * 1000 });
    assert.deepEqual(readdirSync(join(snaps, '.active')), []);
    const keys = new Set<string>();
    for await (const s of sn.walk()) keys.add(s.key);
    assert.deepEqual([...keys], ['sha256:done']);
    assert.deepEqual(readdirSync(snaps).filter((n) => !n.startsWith('.')).length, 1, `the cut commit was swept: ${readdirSync(snaps).join(' ')}`);

    // A store from before the markers: what a dead extraction left has no marker, and a prepare
    // may have made the markers' directory before the first sweep. The full sweep finds it.
    const dead = `extract-${deadPid}-eeee-sha256:v`;
    await sn.prepare(dead, undefined, { extract: true });
    rmSync(join(snaps, '.active', createHash('sha256').update(dead).digest('hex')));
    rmSync(join(snaps, '.marked'));
    await sn.cleanup();
    assert.equal(await sn.stat(dead), undefined);
    assert.ok(readdirSync(snaps).includes('.marked'), 'the sweep marks the store');
    assert.ok(await sn.stat('sha256:done'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
