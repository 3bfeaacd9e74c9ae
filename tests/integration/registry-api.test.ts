// lading's registry against the distribution spec, over real HTTP on loopback with raw undici
// requests (every status and header the spec names) and with lading's own client and CLI.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import fc from 'fast-check';
import { main } from '../../src/cli/index.js';
import { MediaType, sha256, type Digest } from '../../src/oci/index.js';
import { RegistryClient } from '../../src/remote/index.js';
import { buildImage, buildIndex, captureIo, dir, file, pushFixture, startLadingRegistry, tarLayer, type LadingRegistry } from '../../src/testing/index.js';

let reg: LadingRegistry;
let work: string;

before(async () => {
  reg = await startLadingRegistry();
  work = await mkdtemp(join(tmpdir(), 'lading-regapi-'));
});
after(async () => {
  await reg?.stop();
  await rm(work, { recursive: true, force: true });
});

type Headers = Record<string, string | string[] | undefined>;
async function call(method: string, path: string, o: { headers?: Record<string, string>; body?: Buffer | string } = {}) {
  const res = await request(new URL(path, reg.url), { method: method as 'GET', headers: o.headers ?? {}, ...(o.body !== undefined ? { body: o.body } : {}) });
  const buf = Buffer.from(await res.body.arrayBuffer());
  const h = res.headers as Headers;
  const header = (n: string) => {
    const v = h[n];
    return Array.isArray(v) ? v[0] : v;
  };
  return { status: res.statusCode, header, body: buf, text: buf.toString(), json: () => JSON.parse(buf.toString()) as Record<string, unknown> };
}
const errCode = (r: { json: () => Record<string, unknown> }) => (r.json().errors as Array<{ code: string }>)[0]?.code;

async function startUpload(repo: string) {
  const r = await call('POST', `/v2/${repo}/blobs/uploads/`);
  assert.equal(r.status, 202);
  assert.ok(r.header('docker-upload-uuid'));
  assert.equal(r.header('range'), '0-0');
  return r.header('location')!;
}

async function monolithic(repo: string, content: Buffer | string): Promise<Digest> {
  const d = sha256(content);
  const r = await call('POST', `/v2/${repo}/blobs/uploads/?digest=${d}`, { body: content, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(r.status, 201, r.text);
  return d;
}

function imageManifest(config: { digest: Digest; size: number }, layers: Array<{ digest: Digest; size: number }>, extra: Record<string, unknown> = {}) {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, ...config },
      layers: layers.map((l) => ({ mediaType: MediaType.OciLayerGzip, ...l })),
      ...extra,
    }),
  );
}

describe('base and blobs', () => {
  test('/v2/ answers 200 with the API version header; health endpoint', async () => {
    const r = await call('GET', '/v2/');
    assert.equal(r.status, 200);
    assert.equal(r.header('docker-distribution-api-version'), 'registry/2.0');
    assert.equal((await call('GET', '/healthz')).status, 200);
  });

  test('monolithic POST with digest; GET, HEAD and Range', async () => {
    const content = 'monolithic blob content';
    const d = await monolithic('blobs/mono', content);
    const g = await call('GET', `/v2/blobs/mono/blobs/${d}`);
    assert.equal(g.status, 200);
    assert.equal(g.text, content);
    assert.equal(g.header('docker-content-digest'), d);
    assert.equal(g.header('content-length'), String(content.length));
    const h = await call('HEAD', `/v2/blobs/mono/blobs/${d}`);
    assert.equal(h.status, 200);
    assert.equal(h.header('content-length'), String(content.length));
    assert.equal(h.body.length, 0);
    const part = await call('GET', `/v2/blobs/mono/blobs/${d}`, { headers: { range: 'bytes=5-9' } });
    assert.equal(part.status, 206);
    assert.equal(part.text, content.slice(5, 10));
    assert.equal(part.header('content-range'), `bytes 5-9/${content.length}`);
    const bad = await call('GET', `/v2/blobs/mono/blobs/${d}`, { headers: { range: 'bytes=100-' } });
    assert.equal(bad.status, 416);
    assert.equal(bad.header('content-range'), `bytes */${content.length}`);
    const other = await call('GET', `/v2/blobs/elsewhere/blobs/${d}`);
    assert.equal(other.status, 404, 'a blob is visible only in repositories it is linked to');
    assert.equal(errCode(other), 'BLOB_UNKNOWN');
    assert.equal(errCode(await call('GET', `/v2/blobs/mono/blobs/sha256:nothex`)), 'DIGEST_INVALID');
  });

  test('POST then PUT with the body', async () => {
    const loc = await startUpload('blobs/put');
    const content = Buffer.from('post then put');
    const d = sha256(content);
    const r = await call('PUT', `${loc}?digest=${d}`, { body: content });
    assert.equal(r.status, 201);
    assert.equal(r.header('location'), `/v2/blobs/put/blobs/${d}`);
    assert.equal(r.header('docker-content-digest'), d);
    assert.equal((await call('GET', `/v2/blobs/put/blobs/${d}`)).text, 'post then put');
  });

  test('chunked PATCH with Content-Range, out-of-order 416, status GET, final chunk on PUT', async () => {
    const content = Buffer.from('0123456789abcdefghij');
    const d = sha256(content);
    const loc = await startUpload('blobs/chunked');
    const outOfOrder = await call('PATCH', loc, { body: content.subarray(10), headers: { 'content-range': '10-19', 'content-type': 'application/octet-stream' } });
    assert.equal(outOfOrder.status, 416);
    assert.equal(outOfOrder.header('range'), '0-0');
    const p1 = await call('PATCH', loc, { body: content.subarray(0, 10), headers: { 'content-range': '0-9', 'content-type': 'application/octet-stream' } });
    assert.equal(p1.status, 202);
    assert.equal(p1.header('range'), '0-9');
    assert.equal(p1.header('location'), loc);
    const again = await call('PATCH', loc, { body: content.subarray(0, 10), headers: { 'content-range': '0-9' } });
    assert.equal(again.status, 416, 'a chunk already received is out of order');
    assert.equal(again.header('range'), '0-9');
    const status = await call('GET', loc);
    assert.equal(status.status, 204);
    assert.equal(status.header('range'), '0-9');
    assert.equal(status.header('docker-upload-uuid'), loc.split('/').pop());
    const fin = await call('PUT', `${loc}?digest=${d}`, { body: content.subarray(10), headers: { 'content-range': '10-19' } });
    assert.equal(fin.status, 201, fin.text);
    assert.equal((await call('GET', `/v2/blobs/chunked/blobs/${d}`)).text, content.toString());
    assert.equal(errCode(await call('GET', loc)), 'BLOB_UPLOAD_UNKNOWN', 'a finished upload is gone');
  });

  test('streamed PATCH without Content-Range, then PUT without a body', async () => {
    const loc = await startUpload('blobs/streamed');
    const content = Buffer.alloc(300_000, 'x');
    const p = await call('PATCH', loc, { body: content });
    assert.equal(p.status, 202);
    assert.equal(p.header('range'), `0-${content.length - 1}`);
    const fin = await call('PUT', `${p.header('location')}?digest=${sha256(content)}`);
    assert.equal(fin.status, 201);
  });

  test('wrong digest is refused, nothing visible; cancel; unknown uploads', async () => {
    const loc = await startUpload('blobs/bad');
    const wrong = sha256('something else');
    const r = await call('PUT', `${loc}?digest=${wrong}`, { body: 'actual' });
    assert.equal(r.status, 400);
    assert.equal(errCode(r), 'DIGEST_INVALID');
    assert.equal((await call('HEAD', `/v2/blobs/bad/blobs/${wrong}`)).status, 404);
    assert.equal((await call('HEAD', `/v2/blobs/bad/blobs/${sha256('actual')}`)).status, 404);
    assert.equal(errCode(await call('PUT', `${await startUpload('blobs/bad')}?digest=nope`)), 'DIGEST_INVALID');
    const loc2 = await startUpload('blobs/bad');
    assert.equal((await call('DELETE', loc2)).status, 204);
    assert.equal(errCode(await call('GET', loc2)), 'BLOB_UPLOAD_UNKNOWN');
    assert.equal(errCode(await call('PATCH', '/v2/blobs/bad/blobs/uploads/00000000-0000-0000-0000-000000000000', { body: 'x' })), 'BLOB_UPLOAD_UNKNOWN');
    const loc3 = await startUpload('blobs/bad');
    assert.equal(errCode(await call('GET', loc3.replace('blobs/bad', 'blobs/other'))), 'BLOB_UPLOAD_UNKNOWN', 'an upload belongs to its repository');
  });

  test('cross-repository mount with from=, without from=, and of an unknown blob', async () => {
    const d = await monolithic('mount/src', 'mount me');
    const m = await call('POST', `/v2/mount/dst/blobs/uploads/?mount=${d}&from=mount/src`);
    assert.equal(m.status, 201);
    assert.equal(m.header('location'), `/v2/mount/dst/blobs/${d}`);
    assert.equal((await call('GET', `/v2/mount/dst/blobs/${d}`)).text, 'mount me');
    const noFrom = await call('POST', `/v2/mount/dst2/blobs/uploads/?mount=${d}`);
    assert.equal(noFrom.status, 201, 'an open registry finds the blob without from=');
    const missing = await call('POST', `/v2/mount/dst/blobs/uploads/?mount=${sha256('never uploaded')}&from=mount/src`);
    assert.equal(missing.status, 202, 'an impossible mount starts an upload instead');
    assert.ok(missing.header('location')?.startsWith('/v2/mount/dst/blobs/uploads/'));
    const wrongSource = await call('POST', `/v2/mount/dst3/blobs/uploads/?mount=${d}&from=mount/elsewhere`);
    assert.equal(wrongSource.status, 202, 'the blob must be linked in the source repository');
  });

  test('names and references are validated', async () => {
    assert.equal(errCode(await call('GET', '/v2/UPPER/tags/list')), 'NAME_INVALID');
    assert.equal(errCode(await call('GET', '/v2/a..b/manifests/latest')), 'NAME_INVALID');
    assert.equal(errCode(await call('GET', '/v2/ok/manifests/-bad-tag')), 'TAG_INVALID');
    assert.equal(errCode(await call('PUT', '/v2/ok/manifests/sha256:zz', { body: '{}' })), 'DIGEST_INVALID');
  });
});

describe('manifests, tags, referrers, deletion', () => {
  test('manifest PUT/GET/HEAD by tag and digest, with the right headers', async () => {
    const img = buildImage({ layers: [await tarLayer([dir('etc'), file('etc/hi', 'hi')])] });
    await pushFixture(reg.url, 'man/img', img, 'v1');
    const d = img.manifest.descriptor.digest;
    for (const ref of ['v1', d]) {
      const g = await call('GET', `/v2/man/img/manifests/${ref}`, { headers: { accept: MediaType.OciManifest } });
      assert.equal(g.status, 200);
      assert.equal(g.header('content-type'), MediaType.OciManifest);
      assert.equal(g.header('docker-content-digest'), d);
      assert.equal(g.header('content-length'), String(img.manifest.bytes.length));
      assert.deepEqual(g.body, img.manifest.bytes);
      const h = await call('HEAD', `/v2/man/img/manifests/${ref}`);
      assert.equal(h.status, 200);
      assert.equal(h.header('content-length'), String(img.manifest.bytes.length));
      assert.equal(h.header('docker-content-digest'), d);
    }
    const put = await call('PUT', `/v2/man/img/manifests/${d}`, { body: img.manifest.bytes, headers: { 'content-type': MediaType.OciManifest } });
    assert.equal(put.status, 201);
    assert.equal(put.header('location'), `/v2/man/img/manifests/${d}`);
    assert.equal(errCode(await call('GET', '/v2/man/img/manifests/nope')), 'MANIFEST_UNKNOWN');
  });

  test('Docker schema 2 manifests and lists, OCI indexes', async () => {
    const a = buildImage({ layers: [await tarLayer([file('a', 'a')])], format: 'docker' });
    const b = buildImage({ layers: [await tarLayer([file('b', 'b')])], format: 'docker', platform: { os: 'linux', architecture: 'arm64' } });
    await pushFixture(reg.url, 'man/docker', buildIndex([a, b], { format: 'docker' }), 'list');
    const g = await call('GET', '/v2/man/docker/manifests/list');
    assert.equal(g.header('content-type'), MediaType.DockerManifestList);
    const child = await call('GET', `/v2/man/docker/manifests/${a.manifest.descriptor.digest}`);
    assert.equal(child.header('content-type'), MediaType.DockerManifest);
    const oci = buildIndex([buildImage({ layers: [await tarLayer([file('c', 'c')])] })]);
    await pushFixture(reg.url, 'man/oci', oci, 'idx');
    assert.equal((await call('GET', '/v2/man/oci/manifests/idx')).header('content-type'), MediaType.OciIndex);
  });

  test('refusals: missing blobs, missing index children, digest mismatch, bad JSON, too large', async () => {
    const cfg = await monolithic('man/bad', '{}');
    const missingLayer = sha256('not uploaded');
    const r = await call('PUT', '/v2/man/bad/manifests/t', { body: imageManifest({ digest: cfg, size: 2 }, [{ digest: missingLayer, size: 12 }]), headers: { 'content-type': MediaType.OciManifest } });
    assert.equal(r.status, 400);
    assert.equal(errCode(r), 'MANIFEST_BLOB_UNKNOWN');
    const elsewhere = await monolithic('man/other', 'layer elsewhere');
    const r2 = await call('PUT', '/v2/man/bad/manifests/t', { body: imageManifest({ digest: cfg, size: 2 }, [{ digest: elsewhere, size: 15 }]), headers: { 'content-type': MediaType.OciManifest } });
    assert.equal(errCode(r2), 'MANIFEST_BLOB_UNKNOWN', 'blobs must be linked in the repository');
    const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [{ mediaType: MediaType.OciManifest, digest: sha256('child'), size: 5 }] }));
    assert.equal(errCode(await call('PUT', '/v2/man/bad/manifests/i', { body: idx, headers: { 'content-type': MediaType.OciIndex } })), 'MANIFEST_BLOB_UNKNOWN');
    const good = imageManifest({ digest: cfg, size: 2 }, []);
    const mismatch = await call('PUT', `/v2/man/bad/manifests/${sha256('other')}`, { body: good, headers: { 'content-type': MediaType.OciManifest } });
    assert.equal(errCode(mismatch), 'DIGEST_INVALID');
    assert.equal(errCode(await call('PUT', '/v2/man/bad/manifests/t', { body: '{not json', headers: { 'content-type': MediaType.OciManifest } })), 'MANIFEST_INVALID');
    assert.equal(errCode(await call('PUT', '/v2/man/bad/manifests/t', { body: JSON.stringify({ schemaVersion: 1, name: 'x' }), headers: { 'content-type': MediaType.DockerSchema1 } })), 'MANIFEST_INVALID');
    const big = await call('PUT', '/v2/man/bad/manifests/t', { body: Buffer.alloc((4 << 20) + 1, 32), headers: { 'content-type': MediaType.OciManifest } });
    assert.equal(big.status, 413);
    assert.equal(errCode(big), 'MANIFEST_INVALID');
    const ok = await call('PUT', '/v2/man/bad/manifests/t', { body: good, headers: { 'content-type': MediaType.OciManifest } });
    assert.equal(ok.status, 201, 'an image with no layers is fine');
  });

  test('tags list: lexical order, n/last paging with Link; each tag exactly once', async () => {
    const cfg = await monolithic('tags/repo', '{"t":1}');
    const m = imageManifest({ digest: cfg, size: 7 }, []);
    const tags = ['v1', 'latest', 'A', 'b', 'v10', 'v2', '_x', 'z.9', 'v1.0-rc'];
    for (const t of tags) assert.equal((await call('PUT', `/v2/tags/repo/manifests/${t}`, { body: m, headers: { 'content-type': MediaType.OciManifest } })).status, 201);
    const all = await call('GET', '/v2/tags/repo/tags/list');
    assert.deepEqual(all.json(), { name: 'tags/repo', tags: [...tags].sort() });
    assert.equal(all.header('link'), undefined);
    const p1 = await call('GET', '/v2/tags/repo/tags/list?n=4');
    assert.deepEqual(p1.json().tags, [...tags].sort().slice(0, 4));
    assert.equal(p1.header('link'), `</v2/tags/repo/tags/list?n=4&last=${encodeURIComponent([...tags].sort()[3]!)}>; rel="next"`);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 10 }), async (n) => {
        const seen: string[] = [];
        let next: string | undefined = `/v2/tags/repo/tags/list?n=${n}`;
        while (next) {
          const r = await call('GET', next);
          seen.push(...(r.json().tags as string[]));
          next = /<([^>]+)>; rel="next"/.exec(r.header('link') ?? '')?.[1];
        }
        assert.deepEqual(seen, [...tags].sort());
      }),
      { numRuns: 10 },
    );
    assert.equal(errCode(await call('GET', '/v2/tags/none/tags/list')), 'NAME_UNKNOWN');
  });

  test('_catalog pagination', async () => {
    const all = (await call('GET', '/v2/_catalog')).json().repositories as string[];
    assert.ok(all.includes('tags/repo') && all.includes('man/img'));
    assert.deepEqual(all, [...all].sort());
    const p = await call('GET', '/v2/_catalog?n=2');
    assert.deepEqual(p.json().repositories, all.slice(0, 2));
    const next = /<([^>]+)>; rel="next"/.exec(p.header('link') ?? '')?.[1];
    assert.ok(next);
    assert.deepEqual((await call('GET', next)).json().repositories, all.slice(2, 4));
  });

  test('referrers: subject on PUT, OCI-Subject, artifactType filter, unknown subject', async () => {
    const img = buildImage({ layers: [await tarLayer([file('s', 's')])] });
    await pushFixture(reg.url, 'refs/app', img, '1');
    const subject = img.manifest.descriptor;
    const empty = await monolithic('refs/app', '{}');
    const sigBlob = await monolithic('refs/app', 'signature bytes');
    const artifacts: Array<{ type: string; digest?: Digest }> = [{ type: 'application/vnd.example.sig' }, { type: 'application/vnd.example.sbom' }, { type: 'application/vnd.example.sig' }];
    for (const [i, a] of artifacts.entries()) {
      const body = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.OciManifest,
          artifactType: a.type,
          config: { mediaType: MediaType.OciEmpty, digest: empty, size: 2 },
          layers: [{ mediaType: 'application/octet-stream', digest: sigBlob, size: 15 }],
          subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
          annotations: { n: String(i) },
        }),
      );
      a.digest = sha256(body);
      const r = await call('PUT', `/v2/refs/app/manifests/${a.digest}`, { body, headers: { 'content-type': MediaType.OciManifest } });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.header('oci-subject'), subject.digest);
    }
    const all = await call('GET', `/v2/refs/app/referrers/${subject.digest}`);
    assert.equal(all.status, 200);
    assert.equal(all.header('content-type'), MediaType.OciIndex);
    const idx = all.json() as { manifests: Array<{ digest: string; artifactType: string; annotations: Record<string, string> }> };
    assert.deepEqual(idx.manifests.map((m) => m.digest).sort(), artifacts.map((a) => a.digest).sort());
    for (const m of idx.manifests) assert.equal(m.annotations.n, String(artifacts.findIndex((a) => a.digest === m.digest)));
    const sigs = await call('GET', `/v2/refs/app/referrers/${subject.digest}?artifactType=application/vnd.example.sig`);
    assert.equal(sigs.header('oci-filters-applied'), 'artifactType');
    assert.deepEqual((sigs.json().manifests as Array<{ artifactType: string }>).map((m) => m.artifactType), ['application/vnd.example.sig', 'application/vnd.example.sig']);
    const none = await call('GET', `/v2/refs/app/referrers/${sha256('no such subject')}`);
    assert.equal(none.status, 200);
    assert.deepEqual(none.json().manifests, []);
    // A referrer may be pushed before its subject exists.
    const orphanSubject = sha256('future subject');
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType: 'x/y', config: { mediaType: MediaType.OciEmpty, digest: empty, size: 2 }, layers: [], subject: { mediaType: MediaType.OciManifest, digest: orphanSubject, size: 10 } }));
    assert.equal((await call('PUT', `/v2/refs/app/manifests/${sha256(body)}`, { body, headers: { 'content-type': MediaType.OciManifest } })).status, 201);
    assert.equal(((await call('GET', `/v2/refs/app/referrers/${orphanSubject}`)).json().manifests as unknown[]).length, 1);
    // Deleting a referrer unlists it.
    assert.equal((await call('DELETE', `/v2/refs/app/manifests/${artifacts[1]!.digest}`)).status, 202);
    assert.equal(((await call('GET', `/v2/refs/app/referrers/${subject.digest}`)).json().manifests as unknown[]).length, 2);
  });

  test('DELETE tag, manifest, blob; admin repository deletion', async () => {
    const img = buildImage({ layers: [await tarLayer([file('d', 'd')])] });
    await pushFixture(reg.url, 'del/app', img, 'one');
    await pushFixture(reg.url, 'del/app', img, 'two');
    await pushFixture(reg.url, 'del/app/nested', img, 'x');
    const d = img.manifest.descriptor.digest;
    assert.equal((await call('DELETE', '/v2/del/app/manifests/one')).status, 202);
    assert.equal(errCode(await call('GET', '/v2/del/app/manifests/one')), 'MANIFEST_UNKNOWN');
    assert.equal((await call('GET', '/v2/del/app/manifests/two')).status, 200, 'deleting a tag keeps the manifest');
    assert.equal(errCode(await call('DELETE', '/v2/del/app/manifests/one')), 'MANIFEST_UNKNOWN');
    assert.equal((await call('DELETE', `/v2/del/app/manifests/${d}`)).status, 202);
    assert.equal(errCode(await call('GET', `/v2/del/app/manifests/${d}`)), 'MANIFEST_UNKNOWN');
    assert.deepEqual((await call('GET', '/v2/del/app/tags/list')).json().tags, [], 'deleting a manifest drops its tags');
    const layer = img.layers[0]!.descriptor.digest;
    assert.equal((await call('DELETE', `/v2/del/app/blobs/${layer}`)).status, 202);
    assert.equal(errCode(await call('GET', `/v2/del/app/blobs/${layer}`)), 'BLOB_UNKNOWN');
    assert.equal((await call('GET', `/v2/del/app/nested/blobs/${layer}`)).status, 200, 'other repositories keep their link');
    assert.equal((await call('DELETE', '/admin/v1/repositories/del/app')).status, 202);
    assert.equal(errCode(await call('GET', '/v2/del/app/tags/list')), 'NAME_UNKNOWN');
    assert.equal((await call('GET', '/v2/del/app/nested/manifests/x')).status, 200, 'nested repositories stay');
    assert.equal(errCode(await call('DELETE', '/admin/v1/repositories/del/app')), 'NAME_UNKNOWN');
  });
});

describe('lading as the client', () => {
  test('RegistryClient resolves, fetches and pages tags; lading pull stores the image', async () => {
    const img = buildImage({ layers: [await tarLayer([dir('etc'), file('etc/os-release', 'NAME=lading\n')]), await tarLayer([file('app.txt', 'app')])] });
    for (const t of ['1', '2', '3']) await pushFixture(reg.url, 'client/app', img, t);
    const agent = new Agent();
    const client = new RegistryClient({ agent, hosts: { insecure: [reg.host] } });
    const repo = { registry: reg.host, repository: 'client/app' };
    const m = await client.resolve(repo, '2');
    assert.equal(m.descriptor.digest, img.manifest.descriptor.digest);
    const { stream } = await client.fetchBlob(repo, img.layers[1]!.descriptor, { verify: true });
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    assert.deepEqual(Buffer.concat(chunks), img.layers[1]!.bytes);
    assert.deepEqual(await client.listTags(repo, { pageSize: 2 }), ['1', '2', '3']);
    const root = await mkdtemp(join(work, 'root-'));
    const io = captureIo({ env: { ...process.env, LADING_ROOT: root, DOCKER_CONFIG: join(root, '.docker') } });
    const code = await main(['pull', `${reg.host}/client/app:3`], io);
    assert.equal(code, 0, io.err());
    assert.match(io.out(), new RegExp(`Digest: ${img.manifest.descriptor.digest}`));
    await agent.close();
  });
});

describe('read-only', () => {
  test('a read-only registry serves pulls and refuses writes with UNSUPPORTED', async () => {
    const img = buildImage({ layers: [await tarLayer([file('r', 'r')])] });
    await pushFixture(reg.url, 'ro/app', img, '1');
    const ro = await startLadingRegistry({ root: reg.root, readOnly: true });
    try {
      const g = await request(`${ro.url}/v2/ro/app/manifests/1`);
      assert.equal(g.statusCode, 200);
      await g.body.dump();
      for (const [method, path] of [['POST', '/v2/ro/app/blobs/uploads/'], ['PUT', '/v2/ro/app/manifests/2'], ['DELETE', '/v2/ro/app/manifests/1']] as const) {
        const r = await request(`${ro.url}${path}`, { method, body: method === 'PUT' ? img.manifest.bytes : undefined });
        assert.equal(r.statusCode, 405, `${method} ${path}`);
        assert.equal(((await r.body.json()) as { errors: Array<{ code: string }> }).errors[0]!.code, 'UNSUPPORTED');
      }
    } finally {
      await ro.stop();
    }
  });
});
