import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { parseChallenges } from './challenge.js';

test('parses a Bearer challenge with quoted commas in scope', () => {
  assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull,push' } },
  ]);
});

test('parses several challenges in one header and across headers', () => {
  assert.deepEqual(parseChallenges('Basic realm="Registry Realm", Bearer realm="https://a/t" , error="insufficient_scope"'), [
    { scheme: 'basic', params: { realm: 'Registry Realm' } },
    { scheme: 'bearer', params: { realm: 'https://a/t', error: 'insufficient_scope' } },
  ]);
  assert.deepEqual(parseChallenges(['Basic realm=x', 'BEARER Realm="y",Service=z']), [
    { scheme: 'basic', params: { realm: 'x' } },
    { scheme: 'bearer', params: { realm: 'y', service: 'z' } },
  ]);
});

test('handles escapes, token68, bare schemes and garbage', () => {
  assert.deepEqual(parseChallenges('Bearer realm="a \\"quoted\\" \\\\ realm"'), [{ scheme: 'bearer', params: { realm: 'a "quoted" \\ realm' } }]);
  assert.deepEqual(parseChallenges('Negotiate abc123==, Basic'), [
    { scheme: 'negotiate', params: {}, token68: 'abc123==' },
    { scheme: 'basic', params: {} },
  ]);
  assert.deepEqual(parseChallenges(''), []);
  assert.deepEqual(parseChallenges(undefined), []);
  assert.deepEqual(parseChallenges('Bearer realm="unterminated'), [{ scheme: 'bearer', params: {} }]);
});
