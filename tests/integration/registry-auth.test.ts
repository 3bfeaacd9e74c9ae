// Every refusal of lading's registry: Basic auth against htpasswd, bearer tokens from the
// built-in endpoint and from an external issuer, access rules, admin-only deletion, and TLS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { main } from '../../src/cli/index.js';
import { Htpasswd } from '../../src/registry/index.js';
import { buildImage, captureIo, file, pushFixture, startLadingRegistry, startTokenServer, tarLayer, type FixtureImage, type LadingRegistry } from '../../src/testing/index.js';

let work: string;
let htpasswd: string;
let img: FixtureImage;
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const ALICE = basic('alice', 'alice-pw');
const READER = basic('reader', 'reader-pw');
const ADMIN = basic('root', 'root-pw');

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'lading-regauth-'));
  htpasswd = join(work, 'htpasswd');
  // Cost 4 keeps the test fast; the file format is what `htpasswd -B` writes.
  await writeFile(htpasswd, [Htpasswd.entry('alice', 'alice-pw', 4), Htpasswd.entry('reader', 'reader-pw', 4), Htpasswd.entry('root', 'root-pw', 4).replace('$2b$', '$2y$')].join('\n') + '\n');
  img = buildImage({ layers: [await tarLayer([file('auth.txt', 'auth')])] });
});
after(() => rm(work, { recursive: true, force: true }));

async function call(url: string, method: string, o: { auth?: string; body?: Buffer; dispatcher?: Agent } = {}) {
  const res = await request(url, { method: method as 'GET', headers: o.auth ? { authorization: o.auth } : {}, ...(o.body ? { body: o.body } : {}), ...(o.dispatcher ? { dispatcher: o.dispatcher } : {}) });
  const text = await res.body.text();
  const challenge = res.headers['www-authenticate'];
  return { status: res.statusCode, challenge: Array.isArray(challenge) ? challenge[0] : challenge, code: text.startsWith('{"errors"') ? (JSON.parse(text) as { errors: Array<{ code: string }> }).errors[0]!.code : undefined, text };
}

const rules = [
  { account: 'alice', name: '**', actions: ['pull', 'push', 'delete'] },
  { account: 'reader', name: 'team/*', actions: ['pull'] },
];

describe('htpasswd', () => {
  let reg: LadingRegistry;
  before(async () => {
    reg = await startLadingRegistry({ auth: { htpasswd, access: rules, admins: ['root'] } });
    await pushFixture(reg.url, 'team/app', img, '1', { headers: { authorization: ALICE } });
    await pushFixture(reg.url, 'private/app', img, '1', { headers: { authorization: ALICE } });
  });
  after(() => reg.stop());

  test('no credentials: 401 with a Basic challenge', async () => {
    const r = await call(`${reg.url}/v2/team/app/manifests/1`, 'GET');
    assert.equal(r.status, 401);
    assert.equal(r.code, 'UNAUTHORIZED');
    assert.equal(r.challenge, 'Basic realm="lading registry"');
    assert.equal((await call(`${reg.url}/v2/`, 'GET')).status, 401);
  });

  test('wrong password or unknown user: 401', async () => {
    assert.equal((await call(`${reg.url}/v2/team/app/manifests/1`, 'GET', { auth: basic('alice', 'nope') })).status, 401);
    assert.equal((await call(`${reg.url}/v2/team/app/manifests/1`, 'GET', { auth: basic('mallory', 'x') })).status, 401);
  });

  test('a reader pulls inside its scope, is denied outside it and denied pushes', async () => {
    assert.equal((await call(`${reg.url}/v2/team/app/manifests/1`, 'GET', { auth: READER })).status, 200);
    const outside = await call(`${reg.url}/v2/private/app/manifests/1`, 'GET', { auth: READER });
    assert.equal(outside.status, 403);
    assert.equal(outside.code, 'DENIED');
    const push = await call(`${reg.url}/v2/team/app/blobs/uploads/`, 'POST', { auth: READER });
    assert.equal(push.status, 403);
    assert.equal(push.code, 'DENIED');
    const mount = await call(`${reg.url}/v2/team/other/blobs/uploads/?mount=${img.layers[0]!.descriptor.digest}&from=private/app`, 'POST', { auth: ALICE });
    assert.equal(mount.status, 201, 'alice may mount from a repository she can read');
    const del = await call(`${reg.url}/v2/team/app/manifests/1`, 'DELETE', { auth: READER });
    assert.equal(del.status, 403);
    const cat = await call(`${reg.url}/v2/_catalog`, 'GET', { auth: READER });
    assert.equal(cat.status, 403, 'the catalog needs registry:catalog:* which the rules do not grant');
  });

  test('only an admin deletes a whole repository or runs the collector', async () => {
    assert.equal((await call(`${reg.url}/admin/v1/repositories/team/other`, 'DELETE', { auth: ALICE })).status, 403);
    assert.equal((await call(`${reg.url}/admin/v1/gc?dryRun=true`, 'POST', { auth: ALICE })).status, 403);
    assert.equal((await call(`${reg.url}/admin/v1/repositories/team/other`, 'DELETE')).status, 401);
    assert.equal((await call(`${reg.url}/admin/v1/repositories/team/other`, 'DELETE', { auth: ADMIN })).status, 202);
    const gc = await call(`${reg.url}/admin/v1/gc?dryRun=true`, 'POST', { auth: ADMIN });
    assert.equal(gc.status, 200);
    assert.equal((JSON.parse(gc.text) as { dryRun: boolean }).dryRun, true);
  });

  test('anonymous read lets anonymous users pull but not push', async () => {
    const anon = await startLadingRegistry({ root: reg.root, auth: { htpasswd, anonymousRead: true } });
    try {
      assert.equal((await call(`${anon.url}/v2/private/app/manifests/1`, 'GET')).status, 200);
      assert.equal((await call(`${anon.url}/v2/_catalog`, 'GET')).status, 200);
      const push = await call(`${anon.url}/v2/private/app/blobs/uploads/`, 'POST');
      assert.equal(push.status, 401);
      assert.equal(push.challenge, 'Basic realm="lading registry"');
      assert.equal((await call(`${anon.url}/v2/private/app/blobs/uploads/`, 'POST', { auth: READER })).status, 202, 'without rules every user may push');
    } finally {
      await anon.stop();
    }
  });
});

describe('bearer tokens from the built-in endpoint', () => {
  let reg: LadingRegistry;
  const token = async (auth: string | undefined, scope: string) => {
    const r = await call(`${reg.url}/token?service=lading-registry&scope=${encodeURIComponent(scope)}`, 'GET', auth ? { auth } : {});
    assert.equal(r.status, 200, r.text);
    return `Bearer ${(JSON.parse(r.text) as { token: string }).token}`;
  };
  before(async () => {
    reg = await startLadingRegistry({ auth: { htpasswd, access: rules, token: true, anonymousRead: false } });
  });
  after(() => reg.stop());

  test('no token: 401 with a Bearer challenge naming realm, service and scope', async () => {
    const r = await call(`${reg.url}/v2/team/app/manifests/1`, 'GET');
    assert.equal(r.status, 401);
    assert.equal(r.challenge, `Bearer realm="${reg.url}/token",service="lading-registry",scope="repository:team/app:pull"`);
  });

  test('a pushed image with a push token; pull and push scopes are enforced', async () => {
    const push = await token(ALICE, 'repository:team/app:pull,push');
    await pushFixture(reg.url, 'team/app', img, '1', { headers: { authorization: push } });
    assert.equal((await call(`${reg.url}/v2/team/app/manifests/1`, 'GET', { auth: push })).status, 200);
    const other = await call(`${reg.url}/v2/team/other/manifests/1`, 'GET', { auth: push });
    assert.equal(other.status, 401, 'a token is scoped to its repository');
    assert.match(other.challenge ?? '', /error="insufficient_scope"/);
    const readerToken = await token(READER, 'repository:team/app:pull,push');
    assert.equal((await call(`${reg.url}/v2/team/app/manifests/1`, 'GET', { auth: readerToken })).status, 200);
    const denied = await call(`${reg.url}/v2/team/app/blobs/uploads/`, 'POST', { auth: readerToken });
    assert.equal(denied.status, 401, 'the reader was granted pull only');
    assert.equal(denied.code, 'DENIED');
    assert.match(denied.challenge ?? '', /scope="repository:team\/app:pull,push",error="insufficient_scope"/);
    const outside = await token(READER, 'repository:private/app:pull');
    assert.equal((await call(`${reg.url}/v2/private/app/manifests/1`, 'GET', { auth: outside })).status, 401);
  });

  test('POST /token (OAuth2, as containerd asks): password grant, refresh grant, refusals', async () => {
    const post = (form: Record<string, string>) =>
      request(`${reg.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      }).then(async (r) => ({ status: r.statusCode, doc: (await r.body.json()) as Record<string, string> }));
    const scope = 'repository:team/app:pull';
    const pw = await post({ grant_type: 'password', username: 'alice', password: 'alice-pw', service: 'lading-registry', scope, access_type: 'offline', client_id: 'test' });
    assert.equal(pw.status, 200);
    assert.equal(pw.doc.scope, scope);
    assert.equal((await call(`${reg.url}/v2/team/app/manifests/1`, 'GET', { auth: `Bearer ${pw.doc.access_token}` })).status, 200);
    assert.ok(pw.doc.refresh_token, 'access_type=offline returns a refresh token');
    const refreshed = await post({ grant_type: 'refresh_token', refresh_token: pw.doc.refresh_token!, service: 'lading-registry', scope });
    assert.equal(refreshed.status, 200);
    assert.equal((await call(`${reg.url}/v2/team/app/manifests/1`, 'GET', { auth: `Bearer ${refreshed.doc.access_token}` })).status, 200);
    assert.equal((await post({ grant_type: 'password', username: 'alice', password: 'wrong', scope })).status, 401);
    const forged = await post({ grant_type: 'refresh_token', refresh_token: pw.doc.access_token!, scope });
    assert.equal(forged.status, 401, 'an access token is not a refresh token');
    assert.equal(forged.doc.error, 'invalid_grant');
    assert.equal((await post({ grant_type: 'client_credentials', scope })).status, 400);
    const other = await post({ grant_type: 'password', username: 'reader', password: 'reader-pw', scope: 'repository:private/app:pull' });
    assert.equal(other.status, 200);
    assert.equal(other.doc.scope, '', 'the policy grants nothing outside the reader\'s repositories');
  });

  test('wrong credentials at the token endpoint, forged or garbage tokens', async () => {
    const r = await call(`${reg.url}/token?service=lading-registry&scope=repository:team/app:pull`, 'GET', { auth: basic('alice', 'wrong') });
    assert.equal(r.status, 401);
    const bad = await call(`${reg.url}/v2/team/app/manifests/1`, 'GET', { auth: 'Bearer not.a.jwt' });
    assert.equal(bad.status, 401);
    assert.match(bad.challenge ?? '', /error="invalid_token"/);
    const other = await startLadingRegistry({ auth: { htpasswd, token: true } });
    try {
      const foreign = await call(`${other.url}/token?service=lading-registry&scope=repository:team/app:pull`, 'GET', { auth: ALICE });
      const t = `Bearer ${(JSON.parse(foreign.text) as { token: string }).token}`;
      assert.equal((await call(`${reg.url}/v2/team/app/manifests/1`, 'GET', { auth: t })).status, 401, 'a token signed by another key is refused');
    } finally {
      await other.stop();
    }
    const anon = await token(undefined, 'repository:team/app:pull');
    assert.equal((await call(`${reg.url}/v2/team/app/manifests/1`, 'GET', { auth: anon })).status, 401, 'anonymous tokens carry nothing without anonymous read');
  });

  test('lading login and pull go through the token flow', async () => {
    const root = await mkdtemp(join(work, 'root-'));
    const env = { ...process.env, LADING_ROOT: root, DOCKER_CONFIG: join(root, '.docker') };
    const login = captureIo({ env, stdin: 'alice-pw\n' });
    assert.equal(await main(['login', '-u', 'alice', '--password-stdin', reg.host], login), 0, login.err());
    const pull = captureIo({ env });
    assert.equal(await main(['pull', `${reg.host}/team/app:1`], pull), 0, pull.err());
    assert.match(pull.out(), /Status: Downloaded newer image/);
  });
});

describe('bearer tokens from an external issuer', () => {
  test('tokens verified with the issuer certificate; anonymous pull of a public repository', async () => {
    const tokens = await startTokenServer(work, { users: { bob: 'bob-pw' }, publicPrefix: 'public/' });
    const reg = await startLadingRegistry({
      auth: {
        token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, publicKey: tokens.rootCertBundle },
        access: [{ account: '*', name: '**', actions: ['pull', 'push'] }],
      },
    });
    try {
      const get = async (scope: string, auth?: string) => {
        const r = await call(`${tokens.realm}?service=${tokens.service}&scope=${scope}`, 'GET', auth ? { auth } : {});
        return `Bearer ${(JSON.parse(r.text) as { token: string }).token}`;
      };
      const t = await get('repository:public/app:pull,push', basic('bob', 'bob-pw'));
      await pushFixture(reg.url, 'public/app', img, '1', { headers: { authorization: t } });
      const r = await call(`${reg.url}/v2/public/app/manifests/1`, 'GET');
      assert.equal(r.status, 401);
      assert.equal(r.challenge, `Bearer realm="${tokens.realm}",service="${tokens.service}",scope="repository:public/app:pull"`);
      const anon = await get('repository:public/app:pull,push');
      assert.equal((await call(`${reg.url}/v2/public/app/manifests/1`, 'GET', { auth: anon })).status, 200);
      assert.equal((await call(`${reg.url}/v2/public/app/blobs/uploads/`, 'POST', { auth: anon })).status, 401, 'the issuer granted anonymous pull only');
      const root = await mkdtemp(join(work, 'root-'));
      const io = captureIo({ env: { ...process.env, LADING_ROOT: root, DOCKER_CONFIG: join(root, '.docker') } });
      assert.equal(await main(['pull', `${reg.host}/public/app:1`], io), 0, io.err());
    } finally {
      await reg.stop();
      await tokens.close();
    }
  });
});

describe('TLS', () => {
  test('serves HTTPS with the given certificate and key', async () => {
    const key = join(work, 'tls.key');
    const cert = join(work, 'tls.crt');
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    const reg = await startLadingRegistry({ tls: { cert, key } });
    const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
    try {
      assert.ok(reg.url.startsWith('https://'));
      const r = await call(`${reg.url}/v2/`, 'GET', { dispatcher });
      assert.equal(r.status, 200);
      await assert.rejects(request(`${reg.url}/v2/`), 'an untrusted certificate is refused by a verifying client');
    } finally {
      await dispatcher.close();
      await reg.stop();
    }
  });
});
