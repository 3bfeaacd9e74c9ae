import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { HttpError } from './http-error.js';
import { parseListenAddress, startHttpServer } from './http-server.js';
import { sendJson } from './body.js';
import { Router } from './router.js';

const noop = async () => {};

test('routes match method and pattern; names with slashes; HEAD falls back to GET; 405 lists Allow', () => {
  const r = new Router();
  r.add('GET', /^\/v2\/(?<name>.+?)\/manifests\/(?<ref>[^/]+)$/, 'manifest', noop);
  r.add('PUT', /^\/v2\/(?<name>.+?)\/manifests\/(?<ref>[^/]+)$/, 'manifest', noop);
  r.add('POST', /^\/v2\/(?<name>.+?)\/blobs\/uploads\/?$/, 'upload-start', noop);
  r.add('GET', /^\/v2\/(?<name>.+?)\/blobs\/(?<digest>[^/]+)$/, 'blob', noop);
  const m = r.match('GET', '/v2/a/b/c/manifests/v%31');
  assert.equal(m.kind, 'found');
  assert.deepEqual(m.kind === 'found' && m.params, { name: 'a/b/c', ref: 'v1' });
  assert.equal(r.match('HEAD', '/v2/x/manifests/latest').kind, 'found');
  const blob = r.match('GET', '/v2/x/blobs/blobs/sha256:abc');
  assert.deepEqual(blob.kind === 'found' && blob.params, { name: 'x/blobs', digest: 'sha256:abc' });
  assert.equal(r.match('POST', '/v2/x/blobs/uploads/').kind, 'found');
  const na = r.match('DELETE', '/v2/x/manifests/latest');
  assert.deepEqual(na, { kind: 'method-not-allowed', allow: ['GET', 'PUT'], route: 'manifest' });
  assert.deepEqual(r.match('GET', '/nothing'), { kind: 'not-found' });
});

test('listen addresses', () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:5000'), { host: '127.0.0.1', port: 5000 });
  assert.deepEqual(parseListenAddress(':80'), { host: '0.0.0.0', port: 80 });
  assert.deepEqual(parseListenAddress('[::1]:0'), { host: '::1', port: 0 });
  assert.throws(() => parseListenAddress('localhost'), /HOST:PORT/);
  assert.throws(() => parseListenAddress('h:99999'), /HOST:PORT/);
});

test('server: errors through the mapper, health, 404/405, graceful close finishes in-flight requests', async () => {
  const r = new Router();
  let release!: () => void;
  const gate = new Promise<void>((res) => (release = res));
  r.add('GET', /^\/ok$/, 'ok', async (_req, res) => sendJson(res, 200, { ok: true }));
  r.add('GET', /^\/fail$/, 'fail', async () => {
    throw new HttpError(418, 'teapot', { headers: { 'x-why': 'because' } });
  });
  r.add('GET', /^\/slow$/, 'slow', async (_req, res) => {
    await gate;
    sendJson(res, 200, { slow: true });
  });
  const lines: Array<Record<string, unknown>> = [];
  const logger = { info: (o: Record<string, unknown>) => lines.push(o), warn: () => {}, error: () => {} } as unknown as import('pino').Logger;
  const s = await startHttpServer(
    { router: r, logger, onError: (e, _req, res) => sendJson(res, e instanceof HttpError ? e.status : 500, { error: (e as Error).message }, e instanceof HttpError ? (e.o.headers ?? {}) : {}) },
    { host: '127.0.0.1', port: 0 },
  );
  const get = async (p: string, method = 'GET') => {
    const res = await request(`${s.url}${p}`, { method: method as 'GET' });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  };
  assert.deepEqual((await get('/ok')).body, '{"ok":true}');
  const f = await get('/fail');
  assert.equal(f.status, 418);
  assert.equal(f.headers['x-why'], 'because');
  assert.equal((await get('/missing')).status, 404);
  const na = await get('/ok', 'POST');
  assert.equal(na.status, 405);
  assert.equal(na.headers.allow, 'GET');
  assert.equal((await get('/healthz')).body, '{"status":"ok"}');
  assert.ok(lines.some((l) => l.route === 'ok' && l.status === 200 && typeof l.ms === 'number' && typeof l.reqId === 'string'));
  const slow = get('/slow');
  await new Promise((res) => setTimeout(res, 50));
  assert.equal(s.inFlight(), 1);
  const closed = s.close({ graceMs: 5000 });
  release();
  assert.equal((await slow).status, 200, 'the in-flight request finishes');
  await closed;
  await assert.rejects(get('/ok'), 'no new connections after close');
});
