import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { Agent } from 'undici';
import { MediaType, sha256, type Descriptor, type Digest } from '../oci/index.js';
import type { Clock } from '../util/index.js';
import { RegistryError } from '../errors/index.js';
import { RegistryClient } from './client.js';
import { StaticCredentials, type Credentials } from './credentials.js';
import type { HostsConfig } from './hosts.js';
import { networkError } from './registry-errors.js';

// ---- scripted fakes ------------------------------------------------------------------------

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

interface Fake {
  host: string; // 127.0.0.1:PORT
  url: string; // http://127.0.0.1:PORT
  seen: Seen[];
  paths(): string[];
}

type Handler = (req: IncomingMessage & { body: string }, res: ServerResponse) => unknown;

async function fake(t: { after(fn: () => Promise<void>): void }, handler: Handler): Promise<Fake> {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    try {
      await handler(Object.assign(req, { body }), res);
    } catch (e) {
      res.statusCode = 599;
      res.end(String(e));
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { host: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}`, seen, paths: () => seen.map((s) => `${s.method} ${s.url}`) };
}

function json(res: ServerResponse, status: number, doc: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(doc);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function registryErrorBody(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  json(res, status, { errors: [{ code, message, detail: null }] }, headers);
}

interface FakeClock extends Clock {
  sleeps: number[];
  advance(ms: number): void;
}

function fakeClock(): FakeClock {
  let now = 1_700_000_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    random: () => 0.5,
    sleep: async (ms, signal) => {
      signal?.throwIfAborted();
      sleeps.push(ms);
      now += ms;
    },
    advance(ms) {
      now += ms;
    },
  };
}

function client(t: { after(fn: () => Promise<void>): void }, o: { clock?: FakeClock; credentials?: Credentials; hosts?: HostsConfig } = {}) {
  const agent = new Agent({ keepAliveTimeout: 1000 });
  t.after(() => agent.close());
  const clock = o.clock ?? fakeClock();
  const c = new RegistryClient({ agent, clock, userAgent: 'lading-test', ...(o.credentials ? { credentials: o.credentials } : {}), ...(o.hosts ? { hosts: o.hosts } : {}) });
  return { client: c, clock };
}

async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const MANIFEST = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: sha256('config'), size: 6 },
    layers: [{ mediaType: MediaType.OciLayerGzip, digest: sha256('layer'), size: 5 }],
  }),
);
const MANIFEST_DIGEST = sha256(MANIFEST);

function serveManifest(res: ServerResponse, bytes: Buffer = MANIFEST, type: string = MediaType.OciManifest): void {
  res.writeHead(200, { 'content-type': type, 'content-length': bytes.length, 'docker-content-digest': sha256(bytes) });
  res.end(bytes);
}

function blobOf(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

const desc = (b: Buffer): Descriptor => ({ mediaType: MediaType.OciLayerGzip, digest: sha256(b), size: b.length });

/** Serve `blob`, honouring `Range: bytes=N-` with 206 unless told to ignore it. */
function serveBlob(req: IncomingMessage, res: ServerResponse, blob: Buffer, o: { ignoreRange?: boolean } = {}): void {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (m && !o.ignoreRange) {
    const start = Number(m[1]);
    res.writeHead(206, { 'content-length': blob.length - start, 'content-range': `bytes ${start}-${blob.length - 1}/${blob.length}`, 'accept-ranges': 'bytes' });
    res.end(blob.subarray(start));
    return;
  }
  res.writeHead(200, { 'content-length': blob.length, 'accept-ranges': 'bytes' });
  res.end(blob);
}

// ---- auth ----------------------------------------------------------------------------------

/** A registry behind a token server on the same port; `valid` decides which tokens pass. */
async function bearerRegistry(t: Parameters<typeof fake>[0], o: { valid?: (token: string) => boolean; tokenBody?: (n: number, req: Seen) => unknown; checkToken?: (req: IncomingMessage & { body: string }) => void } = {}) {
  let issued = 0;
  const f: Fake = await fake(t, (req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname === '/token') {
      o.checkToken?.(req);
      issued++;
      json(res, 200, o.tokenBody ? o.tokenBody(issued, f.seen.at(-1)!) : { token: `tok${issued}`, expires_in: 300 });
      return;
    }
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    if (!token || !(o.valid ?? (() => true))(token)) {
      registryErrorBody(res, 401, 'UNAUTHORIZED', 'authentication required', {
        'www-authenticate': `Bearer realm="${f.url}/token",service="fake-registry",scope="repository:bb:pull"`,
      });
      return;
    }
    if (u.pathname === '/v2/bb/manifests/1.0') serveManifest(res);
    else registryErrorBody(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
  });
  return { f, issued: () => issued };
}

test('anonymous Bearer flow: ping, token with service and scope, retry with the token; token reused', async (t) => {
  const { f, issued } = await bearerRegistry(t);
  const { client: c } = client(t);
  const repo = { registry: f.host, repository: 'bb' };
  const r = await c.resolve(repo, '1.0');
  assert.deepEqual(r.descriptor, { mediaType: MediaType.OciManifest, digest: MANIFEST_DIGEST, size: MANIFEST.length });
  assert.deepEqual(Buffer.from(r.bytes), MANIFEST);
  await c.resolve(repo, '1.0');
  assert.equal(issued(), 1);
  assert.deepEqual(f.paths(), ['GET /v2/', 'GET /token?service=fake-registry&scope=repository%3Abb%3Apull', 'GET /v2/bb/manifests/1.0', 'GET /v2/bb/manifests/1.0']);
  const tokenReq = f.seen[1]!;
  assert.equal(tokenReq.headers.authorization, undefined);
  assert.equal(f.seen[2]!.headers.authorization, 'Bearer tok1');
  assert.equal(f.seen[2]!.headers.accept, [MediaType.OciIndex, MediaType.DockerManifestList, MediaType.OciManifest, MediaType.DockerManifest].join(', '));
  assert.equal(f.seen[2]!.headers['user-agent'], 'lading-test');
});

test('Bearer flow with Basic credentials at the token server; access_token field accepted', async (t) => {
  const { f, issued } = await bearerRegistry(t, {
    checkToken: (req) => assert.equal(req.headers.authorization, `Basic ${Buffer.from('alice:pw').toString('base64')}`),
    tokenBody: (n) => ({ access_token: `acc${n}` }),
  });
  const { client: c } = client(t, { credentials: new StaticCredentials({ [`127.0.0.1:${f.host.split(':')[1]}`]: { username: 'alice', password: 'pw' } }) });
  const r = await c.resolve({ registry: f.host, repository: 'bb' }, '1.0');
  assert.equal(r.descriptor.digest, MANIFEST_DIGEST);
  assert.equal(issued(), 1);
  assert.equal(f.seen.at(-1)!.headers.authorization, 'Bearer acc1');
});

test('OAuth2 refresh-token POST when the credentials hold an identity token', async (t) => {
  const { f } = await bearerRegistry(t, {
    checkToken: (req) => {
      assert.equal(req.method, 'POST');
      assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
      const form = new URLSearchParams(req.body);
      assert.equal(form.get('grant_type'), 'refresh_token');
      assert.equal(form.get('refresh_token'), 'idtok');
      assert.equal(form.get('service'), 'fake-registry');
      assert.equal(form.get('scope'), 'repository:bb:pull');
    },
  });
  const { client: c } = client(t, { credentials: new StaticCredentials({ [f.host]: { identitytoken: 'idtok' } }) });
  await c.resolve({ registry: f.host, repository: 'bb' }, '1.0');
  assert.deepEqual(f.paths(), ['GET /v2/', 'POST /token', 'GET /v2/bb/manifests/1.0']);
});

test('an expired token is fetched again; a 401 refreshes once', async (t) => {
  let revoked = new Set<string>();
  const { f, issued } = await bearerRegistry(t, { valid: (tok) => !revoked.has(tok), tokenBody: (n) => ({ token: `tok${n}` }) });
  const { client: c, clock } = client(t);
  const repo = { registry: f.host, repository: 'bb' };
  await c.resolve(repo, '1.0');
  assert.equal(issued(), 1);
  // expires_in defaults to 60 s.
  clock.advance(59_000);
  await c.resolve(repo, '1.0');
  assert.equal(issued(), 1);
  clock.advance(2_000);
  await c.resolve(repo, '1.0');
  assert.equal(issued(), 2);
  // The registry revokes tok2 early: 401, one refresh, success.
  revoked = new Set(['tok2']);
  await c.resolve(repo, '1.0');
  assert.equal(issued(), 3);
  assert.deepEqual(f.seen.slice(-3).map((s) => [s.url, s.headers.authorization]), [
    ['/v2/bb/manifests/1.0', 'Bearer tok2'],
    ['/token?service=fake-registry&scope=repository%3Abb%3Apull', undefined],
    ['/v2/bb/manifests/1.0', 'Bearer tok3'],
  ]);
  // Every token refused: exactly one refresh, then Docker's pull-access-denied error.
  revoked = new Set(['tok3', 'tok4', 'tok5']);
  await assert.rejects(c.resolve(repo, '1.0'), (e: unknown) => {
    assert.ok(e instanceof RegistryError);
    assert.equal(e.code, 'UNAUTHORIZED');
    assert.equal(e.status, 401);
    assert.equal(e.message, `pull access denied for ${f.host}/bb, repository does not exist or may require 'docker login': unauthorized: authentication required`);
    return true;
  });
  assert.equal(issued(), 4);
});

test("Docker Hub's insufficient_scope challenge becomes denied: requested access to the resource is denied", async (t) => {
  const f: Fake = await fake(t, (req, res) => {
    if (req.url?.startsWith('/token')) return json(res, 200, { token: 'x' });
    res.writeHead(401, {
      'www-authenticate': `Bearer realm="${f.url}/token",service="s",scope="repository:library/nope:pull",error="insufficient_scope"`,
      'content-type': 'application/json',
    });
    res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: [] }] }));
  });
  const { client: c } = client(t);
  await assert.rejects(c.resolve({ registry: f.host, repository: 'nope' }, 'latest'), {
    code: 'UNAUTHORIZED',
    message: `pull access denied for ${f.host}/nope, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`,
  });
});

test('Basic challenge: credentials sent as Basic; none gives the pull-access-denied error', async (t) => {
  const good = `Basic ${Buffer.from('u:p').toString('base64')}`;
  const f = await fake(t, (req, res) => {
    if (req.headers.authorization !== good) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="Registry Realm"', 'content-length': 0 });
      res.end();
      return;
    }
    if (req.url === '/v2/') return json(res, 200, {});
    serveManifest(res);
  });
  const { client: c } = client(t, { credentials: new StaticCredentials({ [f.host]: { username: 'u', password: 'p' } }) });
  const r = await c.resolve({ registry: f.host, repository: 'bb' }, '1.0');
  assert.equal(r.descriptor.digest, MANIFEST_DIGEST);
  assert.deepEqual(f.seen.map((s) => s.headers.authorization), [undefined, good]);

  const { client: anon } = client(t);
  await assert.rejects(anon.resolve({ registry: f.host, repository: 'bb' }, '1.0'), {
    code: 'UNAUTHORIZED',
    message: `pull access denied for ${f.host}/bb, repository does not exist or may require 'docker login': unauthorized: authentication required`,
  });
});

test('verifyCredentials: Bearer token request, Basic /v2/ check, Docker wording on failure', async (t) => {
  const bearer: Fake = await fake(t, (req, res) => {
    if (req.url?.startsWith('/token')) {
      if (req.headers.authorization === `Basic ${Buffer.from('alice:right').toString('base64')}`) return json(res, 200, { token: 't', refresh_token: 'rt' });
      return json(res, 401, { details: 'incorrect username or password' });
    }
    res.writeHead(401, { 'www-authenticate': `Bearer realm="${bearer.url}/token",service="svc"`, 'content-length': 0 });
    res.end();
  });
  const { client: c } = client(t);
  assert.deepEqual(await c.verifyCredentials(bearer.host, { username: 'alice', password: 'right' }), { identityToken: 'rt' });
  const tokenUrl = new URL(bearer.seen[1]!.url, 'http://x');
  assert.deepEqual([...tokenUrl.searchParams], [['service', 'svc'], ['account', 'alice'], ['client_id', 'lading'], ['offline_token', 'true']]);
  await assert.rejects(c.verifyCredentials(bearer.host, { username: 'alice', password: 'wrong' }), {
    code: 'UNAUTHORIZED',
    message: `Get "${bearer.url}/v2/": unauthorized: incorrect username or password`,
  });

  const basic = await fake(t, (req, res) => {
    const ok = req.headers.authorization === `Basic ${Buffer.from('bob:pw').toString('base64')}`;
    res.writeHead(ok ? 200 : 401, ok ? { 'content-length': 2 } : { 'www-authenticate': 'Basic realm="r"', 'content-length': 2 });
    res.end('{}');
  });
  assert.deepEqual(await c.verifyCredentials(basic.host, { username: 'bob', password: 'pw' }), {});
  await assert.rejects(c.verifyCredentials(basic.host, { username: 'bob', password: 'nope' }), {
    code: 'UNAUTHORIZED',
    message: `login attempt to ${basic.url}/v2/ failed with status: 401 Unauthorized`,
  });
});

// ---- retries -------------------------------------------------------------------------------

test('429 with Retry-After is retried after exactly that long', async (t) => {
  let n = 0;
  const f = await fake(t, (req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    if (n++ === 0) return registryErrorBody(res, 429, 'TOOMANYREQUESTS', 'slow down', { 'retry-after': '3' });
    serveManifest(res);
  });
  const { client: c, clock } = client(t);
  const r = await c.resolve({ registry: f.host, repository: 'bb' }, '1.0');
  assert.equal(r.descriptor.digest, MANIFEST_DIGEST);
  assert.deepEqual(clock.sleeps, [3000]);
});

test('503 is retried with jittered exponential backoff, then fails as temporary', async (t) => {
  const f = await fake(t, (req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    res.writeHead(503, { 'content-length': 0 });
    res.end();
  });
  const { client: c, clock } = client(t);
  await assert.rejects(c.resolve({ registry: f.host, repository: 'bb' }, '1.0'), (e: unknown) => {
    assert.ok(e instanceof RegistryError);
    assert.equal(e.code, 'UNAVAILABLE');
    assert.equal(e.temporary, true);
    assert.equal(e.status, 503);
    assert.equal(e.message, 'received unexpected HTTP status: 503 Service Unavailable');
    return true;
  });
  assert.equal(f.seen.filter((s) => s.url === '/v2/bb/manifests/1.0').length, 5);
  // random() = 0.5: ceiling * 0.75 for ceilings 200, 400, 800, 1600.
  assert.deepEqual(clock.sleeps, [150, 300, 600, 1200]);
});

test('a cancelled request is never retried', async (t) => {
  const f = await fake(t, (req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    res.writeHead(503, { 'content-length': 0 });
    res.end();
  });
  const ac = new AbortController();
  const clock = fakeClock();
  clock.sleep = async (ms) => {
    clock.sleeps.push(ms);
    ac.abort();
  };
  const { client: c } = client(t, { clock });
  await assert.rejects(c.resolve({ registry: f.host, repository: 'bb' }, '1.0', { signal: ac.signal }), { code: 'CANCELED' });
  assert.equal(f.seen.filter((s) => s.url === '/v2/bb/manifests/1.0').length, 1);
});

// ---- blobs ---------------------------------------------------------------------------------

test('a connection reset mid-body is resumed with Range and the bytes are exact', async (t) => {
  const blob = blobOf(100_000);
  const d = desc(blob);
  let served = 0;
  let first = true;
  const f = await fake(t, (req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    if (first) {
      first = false;
      res.writeHead(200, { 'content-length': blob.length });
      served += 30_000;
      res.write(blob.subarray(0, 30_000), () => res.socket?.destroy());
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    served += blob.length - Number(m?.[1] ?? 0);
    serveBlob(req, res, blob);
  });
  const { client: c, clock } = client(t);
  const { stream, offset } = await c.fetchBlob({ registry: f.host, repository: 'bb' }, d);
  assert.equal(offset, 0);
  const got = await readAll(stream);
  assert.equal(got.length, blob.length);
  assert.ok(got.equals(blob));
  assert.deepEqual(f.seen.filter((s) => s.url !== '/v2/').map((s) => s.headers.range), [undefined, 'bytes=30000-']);
  assert.equal(served, blob.length);
  assert.deepEqual(clock.sleeps, [150]);
});

test('a resume the server answers from byte 0 skips what was delivered; offsets and bytes stay exact', async (t) => {
  const blob = blobOf(200_000);
  let n = 0;
  const f = await fake(t, (req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    n++;
    // Every response ignores Range; the first two break off part-way.
    res.writeHead(200, { 'content-length': blob.length });
    if (n <= 2) {
      res.write(blob.subarray(0, n * 60_000), () => res.socket?.destroy());
      return;
    }
    res.end(blob);
  });
  const { client: c, clock } = client(t);
  const { stream, offset } = await c.fetchBlob({ registry: f.host, repository: 'bb' }, desc(blob));
  assert.equal(offset, 0);
  assert.ok((await readAll(stream)).equals(blob));
  assert.deepEqual(f.seen.filter((s) => s.url !== '/v2/').map((s) => s.headers.range), [undefined, 'bytes=60000-', 'bytes=120000-']);
  // Progress between failures resets the count: each resume waits the first backoff step.
  assert.deepEqual(clock.sleeps, [150, 150]);
});

test('a body that keeps breaking without progress fails after maxResumes; a cancellation during the backoff is CANCELED', async (t) => {
  const blob = blobOf(50_000);
  const f = await fake(t, (req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    // The first response delivers 10 000 bytes; every later one breaks after its headers.
    if (!m) {
      res.writeHead(200, { 'content-length': blob.length });
      res.write(blob.subarray(0, 10_000), () => res.socket?.destroy());
      return;
    }
    const start = Number(m[1]);
    res.writeHead(206, { 'content-length': blob.length - start, 'content-range': `bytes ${start}-${blob.length - 1}/${blob.length}` });
    res.flushHeaders();
    setImmediate(() => res.socket?.destroy());
  });
  const { client: c, clock } = client(t);
  const repo = { registry: f.host, repository: 'bb' };
  const { stream } = await c.fetchBlob(repo, desc(blob));
  await assert.rejects(readAll(stream), { code: 'UNAVAILABLE' });
  assert.equal(clock.sleeps.length, 3); // maxResumes
  assert.deepEqual(f.seen.filter((s) => s.url !== '/v2/').map((s) => s.headers.range), [undefined, 'bytes=10000-', 'bytes=10000-', 'bytes=10000-']);

  const ac = new AbortController();
  clock.sleep = async (_ms, signal) => {
    ac.abort();
    signal?.throwIfAborted();
  };
  const second = await c.fetchBlob(repo, desc(blob), { signal: ac.signal });
  await assert.rejects(readAll(second.stream), { code: 'CANCELED' });
});

test('destroying a blob stream part-way releases its connection', async (t) => {
  const blob = blobOf(4 * 1024 * 1024);
  let closed = 0;
  const f = await fake(t, (req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    res.on('close', () => closed++);
    res.writeHead(200, { 'content-length': blob.length });
    res.end(blob);
  });
  const { client: c } = client(t);
  const { stream } = await c.fetchBlob({ registry: f.host, repository: 'bb' }, desc(blob));
  await new Promise<void>((r) => stream.once('data', () => r()));
  stream.destroy();
  for (let i = 0; i < 1000 && closed === 0; i++) await new Promise((r) => setImmediate(r));
  assert.equal(closed, 1);
});

test('Range honoured with 206; a server answering 200 reports offset 0', async (t) => {
  const blob = blobOf(5000);
  const d = desc(blob);
  let ignore = false;
  const f = await fake(t, (req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    serveBlob(req, res, blob, { ignoreRange: ignore });
  });
  const { client: c } = client(t);
  const repo = { registry: f.host, repository: 'bb' };
  const a = await c.fetchBlob(repo, d, { offset: 1234 });
  assert.equal(a.offset, 1234);
  assert.ok((await readAll(a.stream)).equals(blob.subarray(1234)));
  ignore = true;
  const b = await c.fetchBlob(repo, d, { offset: 1234 });
  assert.equal(b.offset, 0);
  assert.ok((await readAll(b.stream)).equals(blob));
  assert.deepEqual(f.seen.slice(1).map((s) => s.headers.range), ['bytes=1234-', 'bytes=1234-']);
});

test('a blob larger than its descriptor fails as soon as it passes the size', async (t) => {
  const blob = blobOf(3000);
  const f = await fake(t, (req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    serveBlob(req, res, blob);
  });
  const { client: c } = client(t);
  const { stream } = await c.fetchBlob({ registry: f.host, repository: 'bb' }, { ...desc(blob), size: 1000 });
  await assert.rejects(readAll(stream), { code: 'SIZE_MISMATCH', message: `size mismatch for ${sha256(blob)}: more than the expected 1000 bytes` });
});

test('verify: true checks the digest at the end', async (t) => {
  const blob = blobOf(2048);
  const f = await fake(t, (req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    serveBlob(req, res, blob);
  });
  const { client: c } = client(t);
  const repo = { registry: f.host, repository: 'bb' };
  const ok = await c.fetchBlob(repo, desc(blob), { verify: true });
  assert.ok((await readAll(ok.stream)).equals(blob));
  const wrong = await c.fetchBlob(repo, { ...desc(blob), digest: sha256('other') }, { verify: true });
  await assert.rejects(readAll(wrong.stream), { code: 'DIGEST_MISMATCH' });
  await assert.rejects(c.fetchBlob(repo, desc(blob), { verify: true, offset: 5 }), { code: 'INVALID_ARGUMENT' });
});

test('a redirect to another host drops Authorization', async (t) => {
  const blob = blobOf(4096);
  const storage = await fake(t, (req, res) => {
    assert.equal(req.headers.authorization, undefined);
    serveBlob(req, res, blob);
  });
  const reg = await fake(t, (req, res) => {
    if (req.headers.authorization !== 'Basic dTpw') {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="r"', 'content-length': 0 });
      return res.end();
    }
    if (req.url === '/v2/') return json(res, 200, {});
    res.writeHead(307, { location: `${storage.url}/presigned/blob?X-Amz-Signature=abc`, 'content-length': 0 });
    res.end();
  });
  const { client: c } = client(t, { credentials: new StaticCredentials({ [reg.host]: { username: 'u', password: 'p' } }) });
  const { stream } = await c.fetchBlob({ registry: reg.host, repository: 'bb' }, desc(blob));
  assert.ok((await readAll(stream)).equals(blob));
  assert.deepEqual(storage.paths(), ['GET /presigned/blob?X-Amz-Signature=abc']);
  assert.equal(storage.seen[0]!.headers.authorization, undefined);
  assert.equal(reg.seen.at(-1)!.headers.authorization, 'Basic dTpw');
});

test('a redirect loop stops after 10 redirects', async (t) => {
  const f = await fake(t, (req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    res.writeHead(302, { location: req.url ?? '/', 'content-length': 0 });
    res.end();
  });
  const { client: c } = client(t);
  const blob = blobOf(10);
  await assert.rejects(c.fetchBlob({ registry: f.host, repository: 'bb' }, desc(blob)), {
    code: 'UNAVAILABLE',
    message: `Get "${f.url}/v2/bb/blobs/${sha256(blob)}": stopped after 10 redirects`,
  });
  assert.equal(f.seen.length, 1 + 11);
});

// ---- manifests and errors ------------------------------------------------------------------

test('a manifest by digest must hash to that digest', async (t) => {
  const f = await fake(t, (req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    serveManifest(res);
  });
  const { client: c } = client(t);
  const repo = { registry: f.host, repository: 'bb' };
  const ok = await c.fetchManifest(repo, MANIFEST_DIGEST);
  assert.equal(ok.descriptor.digest, MANIFEST_DIGEST);
  const other = sha256('something else');
  await assert.rejects(c.fetchManifest(repo, other), {
    code: 'DIGEST_MISMATCH',
    message: `manifest verification failed for digest ${other}`,
  });
});

test('an index is typed from the body; schema 1 is refused with Docker\'s message', async (t) => {
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.DockerManifestList, manifests: [] }));
  const schema1 = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'bb', tag: 'old', fsLayers: [] }));
  const f = await fake(t, (req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    if (req.url?.endsWith('/multi')) return serveManifest(res, index, MediaType.DockerManifestList);
    serveManifest(res, schema1, MediaType.DockerSchema1Signed);
  });
  const { client: c } = client(t);
  const repo = { registry: f.host, repository: 'bb' };
  const r = await c.resolve(repo, 'multi');
  assert.deepEqual(r.descriptor, { mediaType: MediaType.DockerManifestList, digest: sha256(index), size: index.length });
  await assert.rejects(c.resolve(repo, 'old'), {
    code: 'UNSUPPORTED',
    message:
      'Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. Suggest the author of the image to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2.',
  });
});

test("unknown manifest and repository give Docker's exact messages", async (t) => {
  const f = await fake(t, (req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    if (req.url?.includes('/tags/list')) return registryErrorBody(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry');
    registryErrorBody(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
  });
  const { client: c } = client(t);
  await assert.rejects(c.resolve({ registry: f.host, repository: 'bb' }, 'nope'), {
    code: 'NOT_FOUND',
    message: `manifest for ${f.host}/bb:nope not found: manifest unknown: manifest unknown`,
  });
  const zero = `sha256:${'0'.repeat(64)}` as Digest;
  await assert.rejects(c.resolve({ registry: f.host, repository: 'bb' }, zero), {
    message: `manifest for ${f.host}/bb@${zero} not found: manifest unknown: manifest unknown`,
  });
  await assert.rejects(c.resolve({ registry: f.host, repository: 'bb' }, 'x', { displayRef: 'shown:x' }), { message: 'manifest for shown:x not found: manifest unknown: manifest unknown' });
  await assert.rejects(c.listTags({ registry: f.host, repository: 'nope' }), {
    code: 'NOT_FOUND',
    message: `repository ${f.host}/nope not found: name unknown: repository name not known to registry`,
  });
});

test('connection refused gives Docker\'s message for the ping', async (t) => {
  const f = await fake(t, (_req, res) => res.end());
  const host = f.host;
  // Close the fake so the port is refused.
  const { client: c } = client(t);
  const closed = await new Promise<string>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(`127.0.0.1:${p}`));
    });
  });
  assert.notEqual(closed, host);
  await assert.rejects(c.resolve({ registry: closed, repository: 'bb' }, 'latest'), {
    code: 'UNAVAILABLE',
    message: `Get "http://${closed}/v2/": dial tcp ${closed}: connect: connection refused`,
  });
});

test('network error wording for DNS failures and resets', () => {
  const dns = Object.assign(new Error('getaddrinfo ENOTFOUND nosuchhost.invalid'), { code: 'ENOTFOUND', hostname: 'nosuchhost.invalid' });
  assert.equal(networkError('GET', 'https://nosuchhost.invalid/v2/', dns).message, 'Get "https://nosuchhost.invalid/v2/": dial tcp: lookup nosuchhost.invalid: no such host');
  const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
  assert.equal(networkError('HEAD', 'https://u:pw@r.example/v2/x', reset).message, 'Head "https://r.example/v2/x": connection reset by peer');
});

// ---- mirrors and tags ----------------------------------------------------------------------

test('a failing mirror falls back to the upstream', async (t) => {
  const upstream = await fake(t, (req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    serveManifest(res);
  });
  const mirror = await fake(t, (req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    registryErrorBody(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
  });
  const { client: c } = client(t, { hosts: { mirrors: { [upstream.host]: [mirror.url, 'http://127.0.0.1:1'] } } });
  const r = await c.resolve({ registry: upstream.host, repository: 'bb' }, '1.0');
  assert.equal(r.descriptor.digest, MANIFEST_DIGEST);
  assert.deepEqual(mirror.paths(), ['GET /v2/', 'GET /v2/bb/manifests/1.0']);
  assert.deepEqual(upstream.paths(), ['GET /v2/', 'GET /v2/bb/manifests/1.0']);
});

test('listTags follows Link pagination', async (t) => {
  const pages: Record<string, { tags: string[]; next?: string }> = {
    '/v2/bb/tags/list?n=2': { tags: ['a', 'b'], next: '/v2/bb/tags/list?last=b&n=2' },
    '/v2/bb/tags/list?last=b&n=2': { tags: ['c', 'd'], next: '/v2/bb/tags/list?last=d&n=2' },
    '/v2/bb/tags/list?last=d&n=2': { tags: ['e'] },
  };
  const f = await fake(t, (req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    const p = pages[req.url ?? ''];
    if (!p) return registryErrorBody(res, 404, 'NAME_UNKNOWN', 'x');
    json(res, 200, { name: 'bb', tags: p.tags }, p.next ? { link: `<${p.next}>; rel="next"` } : {});
  });
  const { client: c } = client(t);
  assert.deepEqual(await c.listTags({ registry: f.host, repository: 'bb' }, { pageSize: 2 }), ['a', 'b', 'c', 'd', 'e']);
});

test('a redirect from a public host to a private address is refused', async (t) => {
  const internal = await fake(t, (_req, res) => res.end('secret'));
  const pub = await fake(t, (req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    res.writeHead(302, { location: `${internal.url}/latest/meta-data`, 'content-length': 0 });
    res.end();
  });
  const port = pub.host.split(':')[1]!;
  // "registry.example" resolves to the loopback fake, so the registry itself counts as public.
  const agent = new Agent({
    connect: {
      lookup: (_h: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) =>
        opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4),
    } as never,
  });
  t.after(() => agent.close());
  const c = new RegistryClient({ agent, clock: fakeClock(), hosts: { insecure: [`registry.example:${port}`] } });
  const blob = blobOf(10);
  await assert.rejects(c.fetchBlob({ registry: `registry.example:${port}`, repository: 'bb' }, desc(blob)), {
    code: 'DENIED',
    message: `Get "http://registry.example:${port}/v2/bb/blobs/${sha256(blob)}": refusing redirect from registry.example:${port} to private address ${internal.host}`,
  });
  assert.equal(internal.seen.length, 0);
});

test('aborting a blob read mid-body ends it with CANCELED', async (t) => {
  const blob = blobOf(50_000);
  const f = await fake(t, (req, res) => {
    if (req.url === '/v2/') return json(res, 200, {});
    res.writeHead(200, { 'content-length': blob.length });
    res.write(blob.subarray(0, 10_000)); // then stall
  });
  const { client: c, clock } = client(t);
  const ac = new AbortController();
  const { stream } = await c.fetchBlob({ registry: f.host, repository: 'bb' }, desc(blob), { signal: ac.signal });
  let got = 0;
  await assert.rejects(
    (async () => {
      for await (const chunk of stream) {
        got += (chunk as Buffer).length;
        if (got >= 10_000) ac.abort();
      }
    })(),
    { code: 'CANCELED' },
  );
  assert.equal(got, 10_000);
  assert.deepEqual(clock.sleeps, []);
  assert.equal(f.seen.length, 2);
});
