import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, dirname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

// The dependency table of the architecture guide §2. `errors` and `util` are open to all.
const ALLOWED: Record<string, string[]> = {
  util: [],
  errors: [],
  reference: [],
  oci: ['reference'],
  compression: [],
  archive: ['compression', 'oci'],
  content: ['oci', 'reference'],
  metadata: ['oci', 'reference'],
  snapshot: ['oci', 'reference', 'archive', 'compression'],
  remote: ['oci', 'reference'],
  formats: ['archive', 'compression', 'oci', 'reference'],
  images: ['content', 'metadata', 'snapshot', 'remote', 'formats', 'archive', 'compression', 'oci', 'reference'],
  runtime: ['snapshot', 'metadata', 'oci', 'reference'],
  engine: ['images', 'runtime', 'content', 'metadata', 'snapshot', 'remote', 'formats', 'archive', 'compression', 'oci', 'reference'],
  server: [],
  registry: ['server', 'content', 'oci', 'reference'],
  api: ['engine', 'server', 'oci', 'reference'],
  cli: ['engine', 'registry', 'oci', 'reference'],
  testing: ['oci', 'reference', 'compression', 'archive', 'content', 'metadata', 'snapshot', 'remote', 'registry', 'server'],
};
const OPEN = new Set(['util', 'errors']);

const here = dirname(fileURLToPath(import.meta.url));
// Compiled to dist/tests; read the TypeScript sources.
const srcRoot = resolve(here, '..', '..', 'src');

async function* tsFiles(dir: string): AsyncGenerator<string> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* tsFiles(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) yield p;
  }
}

test('imports follow the dependency table and cross folders only through index.ts', async () => {
  const violations: string[] = [];
  for await (const file of tsFiles(srcRoot)) {
    const rel = relative(srcRoot, file);
    const from = rel.includes(sep) ? rel.split(sep)[0]! : '(root)';
    const isTest = file.endsWith('.test.ts') || file.endsWith('testsuite.ts');
    const text = await readFile(file, 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
      const spec = m[1]!;
      if (!spec.startsWith('.')) continue;
      const target = relative(srcRoot, resolve(dirname(file), spec));
      const to = target.includes(sep) ? target.split(sep)[0]! : '(root)';
      if (to === from || from === '(root)') continue;
      if (!isTest && !target.endsWith(`${sep}index.js`) && to !== '(root)') violations.push(`${rel}: imports ${spec} (not the folder's index.ts)`);
      if (OPEN.has(to)) continue;
      if (isTest && to === 'testing') continue;
      const allowed = ALLOWED[from];
      if (!allowed) violations.push(`${rel}: folder ${from} is not in the dependency table`);
      else if (!allowed.includes(to)) violations.push(`${rel}: ${from} -> ${to} is not allowed`);
    }
  }
  assert.deepEqual(violations, []);
});
