import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { jwtVerify } from 'jose';
import { AccessPolicy, accessCovers, formatScope, parseScope } from './access.js';
import { HtpasswdAuthorizer, TokenAuthorizer } from './authorizer.js';
import { Htpasswd } from './htpasswd.js';
import { TokenIssuer } from './token-issuer.js';

const req = (authorization?: string) => ({ headers: { ...(authorization ? { authorization } : {}), host: 'reg.test:5000' } }) as unknown as IncomingMessage;
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

test('scopes parse and format; names may carry a port colon', () => {
  assert.deepEqual(parseScope('repository:a/b:pull,push registry:catalog:*'), [
    { type: 'repository', name: 'a/b', actions: ['pull', 'push'] },
    { type: 'registry', name: 'catalog', actions: ['*'] },
  ]);
  assert.deepEqual(parseScope('repository:host:5000/x:pull'), [{ type: 'repository', name: 'host:5000/x', actions: ['pull'] }]);
  assert.deepEqual(parseScope('garbage repository::pull'), []);
  assert.equal(formatScope(parseScope('repository:a:pull,push')), 'repository:a:pull,push');
  assert.equal(accessCovers([{ type: 'repository', name: 'a', actions: ['*'] }], [{ type: 'repository', name: 'a', actions: ['delete'] }]), true);
  assert.equal(accessCovers([{ type: 'repository', name: 'a', actions: ['pull'] }], [{ type: 'repository', name: 'b', actions: ['pull'] }]), false);
});

test('access policy: defaults, rules with globs, anonymous read, admins', () => {
  const open = new AccessPolicy();
  assert.deepEqual([...open.granted('u', 'repository', 'x')].sort(), ['delete', 'pull', 'push']);
  assert.equal(open.granted(undefined, 'repository', 'x').size, 0);
  const p = new AccessPolicy({
    anonymousRead: true,
    admins: ['root'],
    rules: [
      { account: 'dev', name: 'team/*', actions: ['pull', 'push'] },
      { account: '*', name: 'shared/**', actions: ['pull'] },
    ],
  });
  assert.equal(p.allows('dev', [{ type: 'repository', name: 'team/app', actions: ['push'] }]), true);
  assert.equal(p.allows('dev', [{ type: 'repository', name: 'team/a/b', actions: ['push'] }]), false, '* stays within one component');
  assert.equal(p.allows('dev', [{ type: 'repository', name: 'private/x', actions: ['pull'] }]), true, 'signed-in users have what anonymous users have');
  assert.equal(p.allows('dev', [{ type: 'repository', name: 'shared/a/b', actions: ['pull'] }]), true, '** crosses components');
  assert.equal(p.allows('other', [{ type: 'repository', name: 'team/app', actions: ['push'] }]), false);
  assert.equal(p.allows(undefined, [{ type: 'repository', name: 'anything', actions: ['pull'] }]), true);
  assert.equal(p.allows(undefined, [{ type: 'repository', name: 'anything', actions: ['push'] }]), false);
  assert.equal(p.allows('root', [{ type: 'repository', name: 'x', actions: ['*'] }]), true);
  assert.deepEqual(p.grant('dev', parseScope('repository:team/app:pull,push,delete repository:private/x:pull')), [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }, { type: 'repository', name: 'private/x', actions: ['pull'] }]);
});

test('htpasswd: bcrypt entries only, verify, $2y$ accepted', async () => {
  const h = Htpasswd.parse(`# comment\n${Htpasswd.entry('a', 'pw', 4)}\n${Htpasswd.entry('b', 'x:y', 4).replace('$2b$', '$2y$')}\n`);
  assert.equal(await h.verify('a', 'pw'), true);
  assert.equal(await h.verify('a', 'PW'), false);
  assert.equal(await h.verify('b', 'x:y'), true);
  assert.equal(await h.verify('nobody', 'pw'), false);
  assert.throws(() => Htpasswd.parse('a:{SHA}abc\n'), /only bcrypt/);
  assert.throws(() => Htpasswd.entry('a:b', 'x'), /invalid user/);
});

test('Basic authorizer: challenge, wrong password, denied, anonymous by policy', async () => {
  const users = Htpasswd.parse(`${Htpasswd.entry('dev', 'pw', 4)}\n`);
  const a = new HtpasswdAuthorizer(users, new AccessPolicy({ rules: [{ account: 'dev', name: 'ok/*', actions: ['pull'] }] }));
  const need = [{ type: 'repository', name: 'ok/x', actions: ['pull'] }];
  await assert.rejects(a.authorize(req(), need), (e: { status: number; o: { headers: Record<string, string> } }) => e.status === 401 && e.o.headers['www-authenticate'] === 'Basic realm="lading registry"');
  await assert.rejects(a.authorize(req(basic('dev', 'bad')), need), (e: { status: number }) => e.status === 401);
  assert.deepEqual(await a.authorize(req(basic('dev', 'pw')), need), { user: 'dev' });
  await assert.rejects(a.authorize(req(basic('dev', 'pw')), [{ type: 'repository', name: 'ok/x', actions: ['push'] }]), (e: { status: number; ociCode: string }) => e.status === 403 && e.ociCode === 'DENIED');
});

test('token issuer and authorizer: granted scopes only, signature and audience checked', async () => {
  const users = Htpasswd.parse(`${Htpasswd.entry('dev', 'pw', 4)}\n`);
  const policy = new AccessPolicy({ rules: [{ account: 'dev', name: 'team/*', actions: ['pull', 'push'] }] });
  const issuer = new TokenIssuer({ issuer: 'iss', service: 'svc', users, policy });
  let sent: { status: number; body: string } | undefined;
  const res = { writeHead: (status: number) => ((sent = { status, body: '' }), res), end: (b?: string) => sent && (sent.body = b ?? '') } as unknown as import('node:http').ServerResponse;
  (res as unknown as { req: { method: string } }).req = { method: 'GET' };
  await issuer.handle(req(basic('dev', 'pw')), res, new URL('http://x/token?service=svc&scope=repository:team/app:pull,push,delete&scope=repository:other:pull'));
  assert.equal(sent?.status, 200);
  const token = (JSON.parse(sent!.body) as { token: string }).token;
  const { payload } = await jwtVerify(token, issuer.publicKey, { issuer: 'iss', audience: 'svc' });
  assert.deepEqual(payload.access, [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
  assert.equal(payload.sub, 'dev');
  const auth = new TokenAuthorizer({ realm: 'http://x/token', service: 'svc', issuer: 'iss', keys: [issuer.publicKey], policy });
  assert.deepEqual(await auth.authorize(req(`Bearer ${token}`), [{ type: 'repository', name: 'team/app', actions: ['push'] }]), { user: 'dev' });
  await assert.rejects(auth.authorize(req(`Bearer ${token}`), [{ type: 'repository', name: 'team/app', actions: ['delete'] }]), (e: { status: number; o: { headers: Record<string, string> } }) =>
    e.status === 401 && e.o.headers['www-authenticate'] === 'Bearer realm="http://x/token",service="svc",scope="repository:team/app:delete",error="insufficient_scope"');
  const wrongAudience = new TokenAuthorizer({ realm: 'r', service: 'other', issuer: 'iss', keys: [issuer.publicKey], policy });
  await assert.rejects(wrongAudience.authorize(req(`Bearer ${token}`), []), (e: { status: number }) => e.status === 401);
  await issuer.handle(req(basic('dev', 'nope')), res, new URL('http://x/token?service=svc'));
  assert.equal(sent?.status, 401);
});
