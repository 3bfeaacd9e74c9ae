import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerConfigCredentials, StaticCredentials, credentialsKey } from './credentials.js';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'lading-creds-'));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('credentialsKey uses the Hub index URL for docker.io', () => {
  assert.equal(credentialsKey('docker.io'), 'https://index.docker.io/v1/');
  assert.equal(credentialsKey('registry-1.docker.io'), 'https://index.docker.io/v1/');
  assert.equal(credentialsKey('127.0.0.1:5000'), '127.0.0.1:5000');
});

test('reads auths from $DOCKER_CONFIG: base64 auth, username/password, identitytoken, host matching', async (t) => {
  const dir = await tempDir(t);
  await writeFile(
    join(dir, 'config.json'),
    JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass') },
        'https://127.0.0.1:5000/v2/': { username: 'u', password: 'p' },
        'ghcr.io': { identitytoken: 'refresh-me' },
        'empty.example': {},
      },
    }),
  );
  const c = new DockerConfigCredentials({ env: { DOCKER_CONFIG: dir, HOME: '/nonexistent' } });
  assert.equal(c.path, join(dir, 'config.json'));
  assert.deepEqual(await c.lookup('docker.io'), { serveraddress: 'https://index.docker.io/v1/', username: 'hubuser', password: 'hub:pass' });
  assert.deepEqual(await c.lookup('127.0.0.1:5000'), { serveraddress: '127.0.0.1:5000', username: 'u', password: 'p' });
  assert.deepEqual(await c.lookup('ghcr.io'), { serveraddress: 'ghcr.io', identitytoken: 'refresh-me' });
  assert.equal(await c.lookup('empty.example'), undefined);
  assert.equal(await c.lookup('other.example'), undefined);
});

test('falls back to ~/.docker/config.json, and a missing file means no credentials', async (t) => {
  const home = await tempDir(t);
  const c = new DockerConfigCredentials({ env: { HOME: home } });
  assert.equal(c.path, join(home, '.docker', 'config.json'));
  assert.equal(await c.lookup('docker.io'), undefined);
  await c.storeCredentials('127.0.0.1:5000', { username: 'alice', password: 's3cret' });
  const cfg = JSON.parse(await readFile(c.path, 'utf8')) as { auths: Record<string, { auth: string }> };
  assert.deepEqual(cfg.auths, { '127.0.0.1:5000': { auth: b64('alice:s3cret') } });
  assert.equal((await stat(c.path)).mode & 0o777, 0o600);
  assert.deepEqual(await c.lookup('127.0.0.1:5000'), { serveraddress: '127.0.0.1:5000', username: 'alice', password: 's3cret' });
  assert.equal(await c.eraseCredentials('127.0.0.1:5000'), true);
  assert.equal(await c.eraseCredentials('127.0.0.1:5000'), false);
  assert.equal(await c.lookup('127.0.0.1:5000'), undefined);
});

test('store keeps unrelated config fields', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'config.json'), JSON.stringify({ psFormat: 'table {{.ID}}', auths: { 'other.example': { auth: b64('a:b') } } }));
  const c = new DockerConfigCredentials({ configDir: dir, env: {} });
  await c.storeCredentials('docker.io', { username: 'x', password: 'y' });
  assert.deepEqual(JSON.parse(await readFile(c.path, 'utf8')), {
    psFormat: 'table {{.ID}}',
    auths: { 'other.example': { auth: b64('a:b') }, 'https://index.docker.io/v1/': { auth: b64('x:y') } },
  });
});

const FAKE_HELPER = `#!/bin/sh
# A scripted docker-credential helper: records every call, answers get for one server.
dir=$(dirname "$0")
input=$(cat)
echo "$1 $input" >> "$dir/calls.log"
case "$1" in
  get)
    if [ "$input" = "127.0.0.1:5000" ]; then
      echo '{"ServerURL":"127.0.0.1:5000","Username":"helperuser","Secret":"helperpass"}'
    elif [ "$input" = "https://index.docker.io/v1/" ]; then
      echo '{"ServerURL":"https://index.docker.io/v1/","Username":"<token>","Secret":"idtoken"}'
    else
      echo "credentials not found in native keychain"
      exit 1
    fi ;;
  store) ;;
  erase) ;;
  *) exit 2 ;;
esac
`;

test('credsStore and credHelpers run docker-credential-<name> with the server URL on stdin', async (t) => {
  const dir = await tempDir(t);
  const bin = join(dir, 'bin');
  await (await import('node:fs/promises')).mkdir(bin);
  await writeFile(join(bin, 'docker-credential-fake'), FAKE_HELPER);
  await chmod(join(bin, 'docker-credential-fake'), 0o755);
  await writeFile(join(dir, 'config.json'), JSON.stringify({ credsStore: 'fake', credHelpers: { 'gcr.example': 'missing' }, auths: { 'nothere.example': { auth: b64('file:only') } } }));
  const env = { DOCKER_CONFIG: dir, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` };
  const c = new DockerConfigCredentials({ env });
  assert.deepEqual(await c.lookup('127.0.0.1:5000'), { serveraddress: '127.0.0.1:5000', username: 'helperuser', password: 'helperpass' });
  assert.deepEqual(await c.lookup('docker.io'), { serveraddress: 'https://index.docker.io/v1/', identitytoken: 'idtoken' });
  // The helper has nothing: Docker does not fall back to the file's auths.
  assert.equal(await c.lookup('nothere.example'), undefined);
  await assert.rejects(c.lookup('gcr.example'), {
    code: 'UNAVAILABLE',
    message: 'error getting credentials - err: exec: "docker-credential-missing": executable file not found in $PATH, out: ``',
  });
  await c.storeCredentials('127.0.0.1:5000', { username: 'bob', password: 'pw' });
  assert.deepEqual(JSON.parse(await readFile(c.path, 'utf8')).auths, { 'nothere.example': { auth: b64('file:only') }, '127.0.0.1:5000': {} });
  assert.equal(await c.eraseCredentials('127.0.0.1:5000'), true);
  assert.deepEqual(JSON.parse(await readFile(c.path, 'utf8')).auths, { 'nothere.example': { auth: b64('file:only') } });
  assert.equal(
    await readFile(join(bin, 'calls.log'), 'utf8'),
    [
      'get 127.0.0.1:5000',
      'get https://index.docker.io/v1/',
      'get nothere.example',
      'store {"ServerURL":"127.0.0.1:5000","Username":"bob","Secret":"pw"}',
      'erase 127.0.0.1:5000',
      '',
    ].join('\n'),
  );
});

test('StaticCredentials matches by host', async () => {
  const c = new StaticCredentials({ 'https://127.0.0.1:5000/': { username: 'a', password: 'b' } });
  assert.deepEqual(await c.lookup('127.0.0.1:5000'), { username: 'a', password: 'b' });
  assert.equal(await c.lookup('docker.io'), undefined);
});
