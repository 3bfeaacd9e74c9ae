import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCachedScript } from './cached-script.js';

interface Probe {
  answer(): number;
  file: string;
  dir: string;
  sep: string;
  self: boolean;
}

const probeSource = (n: number) => `'use strict';
const { sep } = require('node:path');
exports.answer = () => ${n};
module.exports.file = __filename;
module.exports.dir = __dirname;
module.exports.sep = sep;
module.exports.self = this === exports;
`;

/** A directory removed when the test ends. */
function scratch(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'lading-cached-script-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('runs a CommonJS file, writes the code cache, then compiles from it', (t) => {
  const dir = scratch(t);
  const file = join(dir, 'probe.cjs');
  const cache = join(dir, 'probe.cjs.cache');
  writeFileSync(file, probeSource(42));

  const first = runCachedScript<Probe>(file, cache);
  assert.equal(first.fromCache, false);
  assert.equal(first.exports.answer(), 42);
  assert.deepEqual([first.exports.file, first.exports.dir, first.exports.sep, first.exports.self], [file, dir, '/', true]);
  assert.ok(statSync(cache).size > 0);

  const second = runCachedScript<Probe>(file, cache);
  assert.equal(second.fromCache, true);
  assert.equal(second.exports.answer(), 42);
  assert.deepEqual(readdirSync(dir).sort(), ['probe.cjs', 'probe.cjs.cache']);
});

test('a cache made for other source or corrupted is rejected and rewritten', (t) => {
  const dir = scratch(t);
  const file = join(dir, 'probe.cjs');
  const cache = join(dir, 'probe.cjs.cache');
  writeFileSync(file, probeSource(1));
  runCachedScript<Probe>(file, cache);
  const old = readFileSync(cache);

  // New source of the same length: V8 alone would accept the old cache and run the old code.
  writeFileSync(file, probeSource(7));
  const changed = runCachedScript<Probe>(file, cache);
  assert.equal(changed.fromCache, false);
  assert.equal(changed.exports.answer(), 7);
  assert.notDeepEqual(readFileSync(cache), old);
  assert.equal(runCachedScript<Probe>(file, cache).fromCache, true);

  // The right key before data V8 refuses (as after a Node upgrade): compiled afresh, cache renewed.
  const key = createHash('sha256').update(readFileSync(file, 'utf8')).digest();
  writeFileSync(cache, Buffer.concat([key, Buffer.from('not a code cache')]));
  // In a fresh process: V8 serves a source this isolate compiled before from memory and would not
  // even look at the data.
  const probe = (): string =>
    execFileSync(process.execPath, ['--input-type=module', '-e', `
      import { runCachedScript } from ${JSON.stringify(new URL('./cached-script.js', import.meta.url).href)};
      const r = runCachedScript(${JSON.stringify(file)}, ${JSON.stringify(cache)});
      process.stdout.write(r.fromCache + ' ' + r.exports.answer());`], { encoding: 'utf8' });
  assert.equal(probe(), 'false 7');
  assert.equal(probe(), 'true 7');
});

test('an unwritable cache location only costs speed', (t) => {
  const dir = scratch(t);
  const file = join(dir, 'probe.cjs');
  writeFileSync(file, probeSource(3));
  const cache = join(dir, 'missing-dir', 'probe.cjs.cache');
  const r = runCachedScript<Probe>(file, cache);
  assert.equal(r.fromCache, false);
  assert.equal(r.exports.answer(), 3);
  assert.equal(existsSync(join(dir, 'missing-dir')), false);
  assert.deepEqual(readdirSync(dir), ['probe.cjs']);
});

test('an error thrown by the script reaches the caller', (t) => {
  const dir = scratch(t);
  const file = join(dir, 'bad.cjs');
  writeFileSync(file, "throw new Error('boom from bad.cjs');\n");
  assert.throws(() => runCachedScript(file, `${file}.cache`), /boom from bad\.cjs/);
});

test("a file stamped with its hash (the bundler's) is keyed by the stamp, not hashed again", (t) => {
  const dir = scratch(t);
  const file = join(dir, 'stamped.cjs');
  const cache = join(dir, 'stamped.cjs.cache');
  const body = probeSource(5);
  // Not the body's real hash: shows the stamp is what keys the cache.
  const stamp = 'ab'.repeat(32);
  writeFileSync(file, `//# sha256=${stamp}\n${body}`);
  assert.equal(runCachedScript<Probe>(file, cache).exports.answer(), 5);
  assert.equal(readFileSync(cache).subarray(0, 32).toString('hex'), stamp);
  assert.equal(runCachedScript<Probe>(file, cache).fromCache, true);

  // A rebuild stamps the new source: the old cache is not used.
  writeFileSync(file, `//# sha256=${'cd'.repeat(32)}\n${probeSource(6)}`);
  const rebuilt = runCachedScript<Probe>(file, cache);
  assert.equal(rebuilt.fromCache, false);
  assert.equal(rebuilt.exports.answer(), 6);
});
