import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { file, tarLayer } from '../src/testing/index.js';

// The bundled CLI as `npm run build` leaves it (scripts/bundle-cli.mjs).
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bundle = join(root, 'dist', 'lading.cjs');
const launcher = join(root, 'bin', 'lading.js');

/** A directory removed when the test ends. */
function scratch(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'lading-bundle-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the bundle is stamped with the SHA-256 of the rest, which keys its code cache', () => {
  const text = readFileSync(bundle, 'utf8');
  const m = /^\/\/# sha256=([0-9a-f]{64})\n/.exec(text);
  assert.ok(m, 'no stamp line');
  assert.equal(m[1], createHash('sha256').update(text.slice(m[0].length)).digest('hex'));
  // The source map follows the extra line.
  const map = JSON.parse(readFileSync(`${bundle}.map`, 'utf8')) as { mappings: string };
  assert.ok(map.mappings.startsWith(';'));
});

test('a command that needs no network, hashing or workers loads none of those built-ins', (t) => {
  const dir = scratch(t);
  // A script, not \`node -e\`: -e itself loads node:crypto.
  const probe = join(dir, 'probe.cjs');
  writeFileSync(probe, `
    const before = new Set(process.moduleLoadList);
    process.argv = [process.argv[0], ${JSON.stringify(launcher)}, 'images'];
    process.on('exit', () => {
      const loaded = process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith('NativeModule ')).map((m) => m.slice(13));
      require('node:fs').writeFileSync(${JSON.stringify(join(dir, 'loaded.json'))}, JSON.stringify(loaded));
    });
    require(${JSON.stringify(launcher)});`);
  const stdout = execFileSync(process.execPath, [probe], { env: { ...process.env, LADING_ROOT: join(dir, 'store') }, encoding: 'utf8' });
  assert.match(stdout, /^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE\n$/);
  const loaded = JSON.parse(readFileSync(join(dir, 'loaded.json'), 'utf8')) as string[];
  assert.ok(loaded.includes('vm'), `the probe saw the launcher's own loads: ${loaded.join(' ')}`);
  for (const m of ['crypto', 'child_process', 'worker_threads', 'http', 'https', 'fs/promises', 'timers/promises']) {
    assert.ok(!loaded.includes(m), `\`lading images\` loaded node:${m}`);
  }
});

test('the bundled HTTP client (its own cached script) follows a redirect: `lading import URL`', async (t) => {
  const dir = scratch(t);
  const rootfs = await tarLayer([file('etc/motd', 'hello\n')]);
  const server = createServer((req, res) => {
    if (req.url === '/moved') res.writeHead(302, { location: '/rootfs.tar' }).end();
    else if (req.url === '/rootfs.tar') res.writeHead(200).end(rootfs);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/moved`;
  const env = { ...process.env, LADING_ROOT: join(dir, 'store') };
  const run = (...args: string[]) => promisify(execFile)(process.execPath, [launcher, ...args], { env, encoding: 'utf8' });
  assert.match((await run('import', url, 'web:1')).stdout, /^sha256:[0-9a-f]{64}\n$/);
  assert.match((await run('images', '--format', '{{.Repository}}:{{.Tag}} {{.Size}}')).stdout, /^web:1 6B\n$/);
});
