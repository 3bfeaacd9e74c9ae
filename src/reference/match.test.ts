import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { LadingError } from '../errors/index.js';
import { familiarString, matchesReferencePattern, parseReference, referenceFilterMatch } from './index.js';

// Go's path.Match behaviour (pattern, name, result); 'bad' = syntax error in pattern.
const GO_CASES: Array<[string, string, boolean | 'bad']> = [
  ['abc', 'abc', true],
  ['*', 'abc', true],
  ['*c', 'abc', true],
  ['a*', 'a', true],
  ['a*', 'abc', true],
  ['a*', 'ab/c', false],
  ['a*/b', 'abc/b', true],
  ['a*/b', 'a/c/b', false],
  ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
  ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true],
  ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false],
  ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false],
  ['a*b?c*x', 'abxbbxdbxebxczzx', true],
  ['a*b?c*x', 'abxbbxdbxebxczzy', false],
  ['ab[c]', 'abc', true],
  ['ab[b-d]', 'abc', true],
  ['ab[e-g]', 'abc', false],
  ['ab[^c]', 'abc', false],
  ['ab[^b-d]', 'abc', false],
  ['ab[^e-g]', 'abc', true],
  ['a\\*b', 'a*b', true],
  ['a\\*b', 'ab', false],
  ['a?b', 'a☺b', true],
  ['a[^a]b', 'a☺b', true],
  ['a???b', 'a☺b', false],
  ['a[^a][^a][^a]b', 'a☺b', false],
  ['[a-ζ]*', 'α', true],
  ['*[a-ζ]', 'A', false],
  ['a?b', 'a/b', false],
  ['a*b', 'a/b', false],
  ['[\\]a]', ']', true],
  ['[\\-]', '-', true],
  ['[x\\-]', 'x', true],
  ['[x\\-]', '-', true],
  ['[x\\-]', 'z', false],
  ['[\\-x]', 'x', true],
  ['[\\-x]', '-', true],
  ['[\\-x]', 'a', false],
  ['[]a]', ']', 'bad'],
  ['[-]', '-', 'bad'],
  ['[x-]', 'x', 'bad'],
  ['[x-]', '-', 'bad'],
  ['[x-]', 'z', 'bad'],
  ['[-x]', 'x', 'bad'],
  ['[-x]', '-', 'bad'],
  ['[-x]', 'a', 'bad'],
  ['\\', 'a', 'bad'],
  ['[a-b-c]', 'a', 'bad'],
  ['[', 'a', 'bad'],
  ['[^', 'a', 'bad'],
  ['[^bc', 'a', 'bad'],
  ['a[', 'a', 'bad'],
  ['a[', 'ab', 'bad'],
  ['a[', 'x', 'bad'],
  ['a/b[', 'x', 'bad'],
  ['*x', 'xxx', true],
  ['', '', true],
  ['', 'a', false],
];

test('path.Match semantics', () => {
  for (const [pattern, name, want] of GO_CASES) {
    if (want === 'bad') {
      assert.throws(
        () => matchesReferencePattern(pattern, name),
        (e: unknown) => e instanceof LadingError && e.code === 'INVALID_ARGUMENT' && e.message === 'syntax error in pattern',
        `${pattern} vs ${name}`,
      );
    } else {
      assert.equal(matchesReferencePattern(pattern, name), want, `${pattern} vs ${name}`);
    }
  }
});

// Images of section 3.6, one reference per row as `docker images` shows them.
const DIGEST = `sha256:0c1f${'0'.repeat(20)}a65bb6f${'1'.repeat(33)}`;
const REFS = [
  'busybox:latest',
  'busybox:1.36',
  `busybox@${DIGEST}`,
  'lab:latest',
  'lab:v1',
  'lab:v2',
  'app:latest',
  'acme/tool:2',
  '127.0.0.1:5001/bb:latest',
].map((s) => parseReference(s));

const matching = (pattern: string): string[] =>
  REFS.filter((r) => referenceFilterMatch(pattern, r)).map((r) => familiarString(r));

const BUSYBOX = ['busybox:latest', 'busybox:1.36', `busybox@${DIGEST}`];
const FILTER_CASES: Array<[string, string[]]> = [
  ['busybox', BUSYBOX],
  ['busybox:1.36', ['busybox:1.36']],
  ['busybox*', BUSYBOX],
  ['busy*', BUSYBOX],
  ['*:latest', ['busybox:latest', 'lab:latest', 'app:latest']],
  ['*', [...BUSYBOX, 'lab:latest', 'lab:v1', 'lab:v2', 'app:latest']],
  ['*/*', ['acme/tool:2', '127.0.0.1:5001/bb:latest']],
  ['acme/*', ['acme/tool:2']],
  ['127.0.0.1:5001/*', ['127.0.0.1:5001/bb:latest']],
  ['docker.io/library/busybox', []],
  ['library/busybox', []],
  ['docker.io/acme/tool', []],
  ['bb', []],
  ['*bb*', [`busybox@${DIGEST}`]],
  ['busybox@sha256:*', [`busybox@${DIGEST}`]],
  ['lab:v?', ['lab:v1', 'lab:v2']],
  ['lab:v[2-9]', ['lab:v2']],
  ['BusyBox', []],
];

for (const [pattern, want] of FILTER_CASES) {
  test(`reference filter ${JSON.stringify(pattern)}`, () => {
    assert.deepEqual(matching(pattern), want);
  });
}

test('reference filter with a bad pattern is a syntax error', () => {
  assert.throws(
    () => matching('['),
    (e: unknown) => e instanceof LadingError && e.code === 'INVALID_ARGUMENT' && e.message === 'syntax error in pattern',
  );
});
