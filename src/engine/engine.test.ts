import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isCode } from '../errors/index.js';
import { resolveConfig } from './config.js';
import { createEngine } from './engine.js';

test('createEngine refuses settings that did not go through resolveConfig, and names the call to make', () => {
  const root = mkdtempSync(join(tmpdir(), 'lading-engine-'));
  try {
    for (const bad of [{ root }, undefined, null]) {
      assert.throws(() => createEngine(bad as never), (e) => isCode(e, 'INVALID_ARGUMENT') && /resolveConfig/.test((e as Error).message));
    }
    const engine = createEngine(resolveConfig({ flags: { root }, env: {} }));
    try {
      assert.deepEqual(engine.listImages(), []);
    } finally {
      engine.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
