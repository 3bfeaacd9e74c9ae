import { request } from 'undici';
import type { FixtureBlob, FixtureImage, FixtureIndex } from './image-builder.js';

/**
 * Push a fixture image or index to a registry with plain monolithic uploads (POST then PUT).
 * Test-only: lading's own pusher comes with `lading push`.
 */
export async function pushFixture(
  baseUrl: string,
  repository: string,
  target: FixtureImage | FixtureIndex,
  reference: string,
  o: { headers?: Record<string, string> } = {},
): Promise<void> {
  const images = 'index' in target ? target.images : [target];
  for (const img of images) {
    for (const b of img.blobs) await pushBlob(baseUrl, repository, b, o.headers);
    if ('index' in target) await putManifest(baseUrl, repository, img.manifest, img.manifest.descriptor.digest, o.headers);
  }
  const top = 'index' in target ? target.index : target.manifest;
  await putManifest(baseUrl, repository, top, reference, o.headers);
}

export async function pushBlob(baseUrl: string, repository: string, b: FixtureBlob, headers: Record<string, string> = {}): Promise<void> {
  const head = await request(`${baseUrl}/v2/${repository}/blobs/${b.descriptor.digest}`, { method: 'HEAD', headers });
  await head.body.dump();
  if (head.statusCode === 200) return;
  const start = await request(`${baseUrl}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers });
  await start.body.dump();
  if (start.statusCode !== 202) throw new Error(`upload start: HTTP ${start.statusCode}`);
  const loc = new URL(String(start.headers.location), baseUrl);
  loc.searchParams.set('digest', b.descriptor.digest);
  const put = await request(loc, {
    method: 'PUT',
    headers: { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(b.bytes.length) },
    body: b.bytes,
  });
  const text = await put.body.text();
  if (put.statusCode !== 201) throw new Error(`blob upload ${b.descriptor.digest}: HTTP ${put.statusCode} ${text}`);
}

export async function putManifest(
  baseUrl: string,
  repository: string,
  m: FixtureBlob,
  reference: string,
  headers: Record<string, string> = {},
): Promise<void> {
  const res = await request(`${baseUrl}/v2/${repository}/manifests/${reference}`, {
    method: 'PUT',
    headers: { ...headers, 'content-type': m.descriptor.mediaType },
    body: m.bytes,
  });
  const text = await res.body.text();
  if (res.statusCode !== 201) throw new Error(`manifest put ${reference}: HTTP ${res.statusCode} ${text}`);
}
