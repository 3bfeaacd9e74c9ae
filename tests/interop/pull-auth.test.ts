// Token auth against the CNCF registry with a token server written in the test: the
// WWW-Authenticate bearer flow, anonymous and with credentials, login and logout.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { main } from '../../src/cli/index.js';
import { buildImage, captureIo, dir, file, pushFixture, startDistribution, startTokenServer, tarLayer, type RunningRegistry, type TokenServer } from '../../src/testing/index.js';

let work: string;
let tokens: TokenServer;
let reg: RunningRegistry;
const USER = 'alice';
const PASS = 's3cret:with:colons';

async function pushToken(repo: string): Promise<string> {
  const url = `${tokens.realm}?service=${tokens.service}&scope=repository:${repo}:pull,push`;
  const res = await request(url, { headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}` } });
  return ((await res.body.json()) as { token: string }).token;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'lading-auth-'));
  tokens = await startTokenServer(work, { users: { [USER]: PASS }, publicPrefix: 'public/' });
  reg = await startDistribution({ auth: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.rootCertBundle } });
  const img = buildImage({ layers: [await tarLayer([dir('etc'), file('etc/motd', 'hi\n')])] });
  for (const repo of ['public/img', 'private/img']) {
    await pushFixture(reg.url, repo, img, '1', { headers: { authorization: `Bearer ${await pushToken(repo)}` } });
  }
});
after(async () => {
  await reg?.stop();
  await tokens?.close();
  await rm(work, { recursive: true, force: true });
});

async function lading(root: string, args: string[], stdin = '') {
  const io = captureIo({ env: { ...process.env, LADING_ROOT: root, DOCKER_CONFIG: join(root, 'docker-config') }, stdin });
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

test('anonymous bearer token for a public repository', async () => {
  const root = await mkdtemp(join(work, 'root-'));
  const n = tokens.requests.length;
  const r = await lading(root, ['pull', `${reg.host}/public/img:1`]);
  assert.equal(r.code, 0, r.err);
  const seen = tokens.requests.slice(n);
  assert.ok(seen.length >= 1);
  assert.deepEqual(seen[0], { scope: 'repository:public/img:pull', service: tokens.service, user: undefined });
});

test('a private repository needs login; login stores credentials; logout removes them', async () => {
  const root = await mkdtemp(join(work, 'root-'));
  const denied = await lading(root, ['pull', `${reg.host}/private/img:1`]);
  assert.equal(denied.code, 1);
  assert.equal(
    denied.err,
    `Error response from daemon: pull access denied for ${reg.host}/private/img, repository does not exist or may require 'docker login': denied: requested access to the resource is denied\n`,
  );
  assert.equal((await lading(root, ['images', '-q'])).out, '');

  const bad = await lading(root, ['login', reg.host, '-u', USER, '--password-stdin'], 'wrong\n');
  assert.equal(bad.code, 1);
  assert.equal(bad.err, `Error response from daemon: Get "${reg.url}/v2/": unauthorized: incorrect username or password\n`);

  const ok = await lading(root, ['login', reg.host, '-u', USER, '--password-stdin'], `${PASS}\n`);
  assert.equal(ok.code, 0, ok.err);
  assert.equal(ok.out, 'Login Succeeded\n');
  const config = JSON.parse(await readFile(join(root, 'docker-config', 'config.json'), 'utf8')) as { auths: Record<string, { auth: string }> };
  assert.equal(Buffer.from(config.auths[reg.host]!.auth, 'base64').toString(), `${USER}:${PASS}`);

  const n = tokens.requests.length;
  const pulled = await lading(root, ['pull', `${reg.host}/private/img:1`]);
  assert.equal(pulled.code, 0, pulled.err);
  assert.ok(tokens.requests.slice(n).some((q) => q.user === USER && q.scope === 'repository:private/img:pull'));

  const out = await lading(root, ['logout', reg.host]);
  assert.equal(out.out, `Removing login credentials for ${reg.host}\n`);
  const again = await lading(root, ['logout', reg.host]);
  assert.equal(again.out, `Not logged in to ${reg.host}\n`);
});
