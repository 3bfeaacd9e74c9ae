import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { LadingError } from '../errors/index.js';
import {
  familiarName,
  familiarString,
  fullString,
  isFullHexId,
  isValidTag,
  nameOnly,
  parseReference,
  parseTagTarget,
  registryHost,
  repositoryName,
  withDefaultTag,
  withTag,
  type Reference,
} from './index.js';

const hex = (n: number, c = 'a'): string => c.repeat(n);
const DIGEST = `sha256:abd0${'1'.repeat(56)}c697`;

function throwsInvalid(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof LadingError, `expected LadingError, got ${String(e)}`);
    assert.equal(e.code, 'INVALID_ARGUMENT');
    assert.equal(e.message, message);
    return true;
  });
}

// Section 1.4: input, full reference (default tag applied), familiar form.
const ACCEPTED: Array<[input: string, full: string, familiar: string]> = [
  ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
  ['library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['index.docker.io/busybox:musl', 'docker.io/library/busybox:musl', 'busybox:musl'],
  ['docker.io/library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['acme/tool:2', 'docker.io/acme/tool:2', 'acme/tool:2'],
  ['myhost/foo', 'docker.io/myhost/foo:latest', 'myhost/foo:latest'],
  ['a/b/c/d', 'docker.io/a/b/c/d:latest', 'a/b/c/d:latest'],
  ['library/a/b', 'docker.io/library/a/b:latest', 'library/a/b:latest'],
  ['localhost/foo', 'localhost/foo:latest', 'localhost/foo:latest'],
  ['localhost:5000/foo', 'localhost:5000/foo:latest', 'localhost:5000/foo:latest'],
  ['myhost:5000/foo', 'myhost:5000/foo:latest', 'myhost:5000/foo:latest'],
  ['my-host.local/foo', 'my-host.local/foo:latest', 'my-host.local/foo:latest'],
  ['1.2.3.4/foo', '1.2.3.4/foo:latest', '1.2.3.4/foo:latest'],
  ['127.0.0.1:5001/bb', '127.0.0.1:5001/bb:latest', '127.0.0.1:5001/bb:latest'],
  ['FOO.io/bar', 'FOO.io/bar:latest', 'FOO.io/bar:latest'],
  ['Docker.io/foo', 'Docker.io/foo:latest', 'Docker.io/foo:latest'],
  ['foo:Latest', 'docker.io/library/foo:Latest', 'foo:Latest'],
  ['foo_bar', 'docker.io/library/foo_bar:latest', 'foo_bar:latest'],
  ['foo__bar', 'docker.io/library/foo__bar:latest', 'foo__bar:latest'],
  ['foo-bar', 'docker.io/library/foo-bar:latest', 'foo-bar:latest'],
  ['foo--bar', 'docker.io/library/foo--bar:latest', 'foo--bar:latest'],
  ['foo.bar', 'docker.io/library/foo.bar:latest', 'foo.bar:latest'],
  ['localhost', 'docker.io/library/localhost:latest', 'localhost:latest'],
  ['localhost:5000', 'docker.io/library/localhost:5000', 'localhost:5000'],
  [`busybox@${DIGEST}`, `docker.io/library/busybox@${DIGEST}`, `busybox@${DIGEST}`],
  // Both kept; callers let the digest win.
  [`busybox:1.36@${DIGEST}`, `docker.io/library/busybox:1.36@${DIGEST}`, `busybox:1.36@${DIGEST}`],
  ['host_name.io/foo', 'host_name.io/foo:latest', 'host_name.io/foo:latest'],
  // Newer-grammar acceptances (section 1.5 "rec.").
  ['[::1]:5000/foo', '[::1]:5000/foo:latest', '[::1]:5000/foo:latest'],
  ['LOCALHOST/x', 'LOCALHOST/x:latest', 'LOCALHOST/x:latest'],
  ['scratch', 'docker.io/library/scratch:latest', 'scratch:latest'],
];

for (const [input, full, familiar] of ACCEPTED) {
  test(`accepts ${JSON.stringify(input)}`, () => {
    const r = withDefaultTag(parseReference(input));
    assert.equal(fullString(r), full);
    assert.equal(familiarString(r), familiar);
  });
}

test('parsed structure: domain, path, tag, digest', () => {
  assert.deepEqual(parseReference('busybox'), { domain: 'docker.io', path: 'library/busybox' });
  assert.deepEqual(parseReference('localhost:5000'), { domain: 'docker.io', path: 'library/localhost', tag: '5000' });
  assert.deepEqual(parseReference('Docker.io/foo'), { domain: 'Docker.io', path: 'foo' });
  assert.deepEqual(parseReference('host_name.io/foo'), { domain: '', path: 'host_name.io/foo' });
  assert.deepEqual(parseReference(`127.0.0.1:5001/bb:v1@${DIGEST}`), {
    domain: '127.0.0.1:5001',
    path: 'bb',
    tag: 'v1',
    digest: DIGEST,
  });
  assert.deepEqual(parseReference(`bb@sha384:${hex(96, 'c')}`).digest, `sha384:${hex(96, 'c')}`);
  assert.deepEqual(parseReference(`bb@sha512:${hex(128, 'c')}`).digest, `sha512:${hex(128, 'c')}`);
});

// Section 1.5, messages as Docker CLI 28 prints them.
const REJECTED: Array<[input: string, message: string]> = [
  ['Foo', 'invalid reference format: repository name (library/Foo) must be lowercase'],
  ['foo/Bar', 'invalid reference format: repository name (foo/Bar) must be lowercase'],
  ['example.com/Foo', 'invalid reference format: repository name (Foo) must be lowercase'],
  ...['foo___bar', 'foo..bar', 'foo.-bar', '-foo', 'foo-', '_foo'].map((s): [string, string] => [s, 'invalid reference format']),
  ...['foo/', '/foo', 'foo//bar', 'foo bar', 'foo:bar:baz', ''].map((s): [string, string] => [s, 'invalid reference format']),
  ...['foo:', 'foo:-x', 'foo:.x', `foo:${hex(129)}`].map((s): [string, string] => [s, 'invalid reference format']),
  ['-host.io/foo', 'invalid reference format'],
  ['host-.io/foo', 'invalid reference format'],
  [hex(256), 'repository name must not be more than 255 characters'],
  [hex(64, 'b'), `invalid repository name (${hex(64, 'b')}), cannot specify 64-byte hexadecimal strings`],
  ['foo@sha256:abcd', 'invalid reference format'],
  [`bb@sha256:${hex(63, 'b')}`, 'invalid checksum digest length'],
  [`bb@md5:${hex(32, 'b')}`, 'unsupported digest algorithm'],
  [`bb@sha256:${hex(64, 'B')}`, 'invalid checksum digest format'],
  // The behaviour file shows `(bb@SHA256)`; CLI 28 prints the normalised path (checked against
  // `docker pull`); the bare `bb@SHA256` form appears for a name with a domain.
  [`bb@SHA256:${hex(64, 'b')}`, 'invalid reference format: repository name (library/bb@SHA256) must be lowercase'],
  [`127.0.0.1:5001/bb@SHA256:${hex(64, 'b')}`, 'invalid reference format: repository name (bb@SHA256) must be lowercase'],
  // Further cases checked against `docker pull` (CLI 28).
  [`bb:t@SHA256:${hex(64, 'b')}`, 'invalid checksum digest format'],
  [`bb@sha512:${hex(64, 'c')}`, 'invalid checksum digest length'],
  [`bb@foo+bar:${hex(40, 'c')}`, 'unsupported digest algorithm'],
  [`bb@Foo+bar:${hex(40, 'c')}`, 'invalid reference format: repository name (library/bb@Foo+bar) must be lowercase'],
  [`bb:1@Foo+bar:${hex(40, 'c')}`, 'invalid checksum digest format'],
  ['Host_name.io/foo', 'repository name must be lowercase'],
  ['[::g]/foo', 'invalid reference format'],
  ['a:b/c', 'invalid reference format'],
  ['example.com:/foo', 'invalid reference format'],
  ['foo:bar/baz', 'invalid reference format'],
];

for (const [input, message] of REJECTED) {
  test(`rejects ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)}`, () => {
    throwsInvalid(() => parseReference(input), message);
  });
}

test('lengths: tag 1..128, repository path 255 (library/ counts, the domain does not)', () => {
  assert.equal(parseReference(`foo:${hex(128)}`).tag, hex(128));
  assert.equal(parseReference(hex(247)).path.length, 255);
  throwsInvalid(() => parseReference(hex(248)), 'repository name must not be more than 255 characters');
  assert.equal(parseReference(`example.com/${hex(255)}`).path.length, 255);
  throwsInvalid(() => parseReference(`example.com/${hex(256)}`), 'repository name must not be more than 255 characters');
});

test('pathological inputs are rejected without runaway backtracking', () => {
  throwsInvalid(() => parseReference(`${'a.'.repeat(20000)}!`), 'invalid reference format');
  throwsInvalid(() => parseReference(`x.io/${'a--'.repeat(20000)}-`), 'invalid reference format');
  throwsInvalid(() => parseReference(`${'a-a'.repeat(20000)}:${hex(200)}`), 'invalid reference format');
});

test('withDefaultTag adds latest only to a bare name', () => {
  assert.equal(withDefaultTag(parseReference('foo')).tag, 'latest');
  assert.deepEqual(withDefaultTag(parseReference('foo:1')), parseReference('foo:1'));
  const byDigest = withDefaultTag(parseReference(`foo@${DIGEST}`));
  assert.equal(byDigest.tag, undefined);
  assert.equal(byDigest.digest, DIGEST);
});

test('withTag and nameOnly', () => {
  const r = parseReference(`foo:1@${DIGEST}`);
  assert.deepEqual(nameOnly(r), { domain: 'docker.io', path: 'library/foo' });
  assert.equal(fullString(withTag(r, 'v2')), 'docker.io/library/foo:v2');
  throwsInvalid(() => withTag(r, '-x'), 'invalid tag format');
});

test('parseTagTarget: default tag, refuses digests, hex names and a repository named sha256', () => {
  assert.equal(fullString(parseTagTarget('foo')), 'docker.io/library/foo:latest');
  assert.equal(fullString(parseTagTarget('127.0.0.1:5001/bb:v1')), '127.0.0.1:5001/bb:v1');
  throwsInvalid(() => parseTagTarget(`foo:1@${DIGEST}`), 'refusing to create a tag with a digest reference');
  throwsInvalid(() => parseTagTarget(`foo@${DIGEST}`), 'refusing to create a tag with a digest reference');
  throwsInvalid(
    () => parseTagTarget(hex(64, 'c')),
    `invalid repository name (${hex(64, 'c')}), cannot specify 64-byte hexadecimal strings`,
  );
  throwsInvalid(() => parseTagTarget(`sha256:${hex(64, 'c')}`), 'refusing to create an ambiguous tag using digest algorithm as name');
  throwsInvalid(() => parseTagTarget('Foo'), 'invalid reference format: repository name (library/Foo) must be lowercase');
  // Only the Hub's official `sha256` is ambiguous; other repositories of that name are fine.
  assert.equal(fullString(parseTagTarget('acme/sha256')), 'docker.io/acme/sha256:latest');
  assert.equal(familiarString(parseTagTarget('scratch')), 'scratch:latest');
});

test('isFullHexId', () => {
  assert.equal(isFullHexId(hex(64, 'f')), true);
  assert.equal(isFullHexId(`sha256:${hex(64, '0')}`), true);
  assert.equal(isFullHexId(hex(63, 'f')), false);
  assert.equal(isFullHexId(hex(65, 'f')), false);
  assert.equal(isFullHexId(hex(64, 'F')), false);
  assert.equal(isFullHexId(`sha512:${hex(64, '0')}`), false);
  assert.equal(isFullHexId(`sha256:${hex(12, '0')}`), false);
});

test('isValidTag', () => {
  for (const ok of ['a', 'latest', 'Latest', '_x', '1.36', 'v1-rc.2', hex(128)]) assert.equal(isValidTag(ok), true, ok);
  for (const bad of ['', '-x', '.x', hex(129), 'a/b', 'a:b', 'a b', 'é']) assert.equal(isValidTag(bad), false, bad);
});

test('names and hosts', () => {
  const cases: Array<[string, string, string, string]> = [
    // input, repositoryName, familiarName, registryHost
    ['busybox:1', 'docker.io/library/busybox', 'busybox', 'docker.io'],
    ['acme/tool', 'docker.io/acme/tool', 'acme/tool', 'docker.io'],
    ['library/a/b', 'docker.io/library/a/b', 'library/a/b', 'docker.io'],
    ['127.0.0.1:5001/bb', '127.0.0.1:5001/bb', '127.0.0.1:5001/bb', '127.0.0.1:5001'],
    ['Docker.io/library/foo', 'Docker.io/library/foo', 'Docker.io/library/foo', 'Docker.io'],
    ['localhost/library/foo', 'localhost/library/foo', 'localhost/library/foo', 'localhost'],
    ['host_name.io/foo', 'host_name.io/foo', 'host_name.io/foo', ''],
  ];
  for (const [input, repo, fam, host] of cases) {
    const r = parseReference(input);
    assert.equal(repositoryName(r), repo, input);
    assert.equal(familiarName(r), fam, input);
    assert.equal(registryHost(r), host, input);
  }
});

test('familiar form of a Hub path whose first component looks like a host is ambiguous (as in Docker)', () => {
  const r: Reference = parseReference('docker.io/foo.bar/baz');
  assert.deepEqual(r, { domain: 'docker.io', path: 'foo.bar/baz' });
  assert.equal(familiarName(r), 'foo.bar/baz');
  assert.deepEqual(parseReference(familiarName(r)), { domain: 'foo.bar', path: 'baz' });
});
