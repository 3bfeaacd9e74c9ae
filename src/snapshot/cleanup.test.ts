import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
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
