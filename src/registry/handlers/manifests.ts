import type { IncomingMessage, ServerResponse } from 'node:http';
import { LadingError } from '../../errors/index.js';
import { isIndexType, parseManifest, sha256, type Descriptor, type Digest } from '../../oci/index.js';
import { readBody, sendBytes, sendEmpty, type RequestContext } from '../../server/index.js';
import { admit, repoAccess, type RegistryContext } from '../context.js';
import { ociError } from '../errors.js';
import { parseManifestReference } from '../names.js';
import type { ManifestRecord } from '../storage/index.js';

/** Resolve a tag or digest to the repository's manifest record (MANIFEST_UNKNOWN otherwise). */
async function findManifest(rc: RegistryContext, name: string, reference: string): Promise<ManifestRecord> {
  const ref = parseManifestReference(reference);
  const d = 'digest' in ref ? ref.digest : await rc.storage.repos.resolveTag(name, ref.tag);
  const rec = d ? await rc.storage.repos.getManifest(name, d) : undefined;
  if (!rec) throw ociError('MANIFEST_UNKNOWN', undefined, { detail: 'tag' in ref ? { tag: ref.tag } : { digest: reference } });
  return rec;
}

async function manifestBytes(rc: RegistryContext, d: Digest): Promise<Buffer> {
  const hit = rc.cache.get(d);
  if (hit) return hit;
  let b: Buffer;
  try {
    b = await rc.storage.blobs.read(d, rc.limits.manifestBytes);
  } catch (e) {
    if ((e as LadingError).code === 'NOT_FOUND') throw ociError('MANIFEST_UNKNOWN', undefined, { detail: { digest: d } });
    throw e;
  }
  rc.cache.set(d, b);
  return b;
}

/** GET/HEAD /v2/<name>/manifests/<reference>. */
export async function getManifest(rc: RegistryContext, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
  const name = await admit(rc, req, ctx, (n) => [repoAccess(n, 'pull')]);
  const rec = await findManifest(rc, name, ctx.params.reference ?? '');
  const headers = { 'content-type': rec.mediaType, 'docker-content-digest': rec.digest, etag: `"${rec.digest}"` };
  if (req.method === 'HEAD') {
    res.writeHead(200, { ...headers, 'content-length': rec.size });
    res.end();
    return;
  }
  sendBytes(res, 200, await manifestBytes(rc, rec.digest), headers);
}

/** The blobs (config, layers) and child manifests a manifest needs present in the repository. */
function references(parsed: ReturnType<typeof parseManifest>): { blobs: Descriptor[]; manifests: Descriptor[] } {
  if (parsed.kind === 'index') return { blobs: [], manifests: parsed.index.manifests };
  // Foreign / non-distributable layers with URLs live elsewhere by design.
  const layers = parsed.manifest.layers.filter((l) => !(l.urls && l.urls.length));
  return { blobs: [parsed.manifest.config, ...layers], manifests: [] };
}

/**
 * PUT /v2/<name>/manifests/<reference>: validate (size, JSON, digest, every referenced blob
 * linked here), refresh the marks of what it references so an online collection keeps them,
 * store it, tag it, and record it as a referrer of its subject.
 */
export async function putManifest(rc: RegistryContext, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
  const name = await admit(rc, req, ctx, (n) => [repoAccess(n, 'pull', 'push')], { write: true });
  const ref = parseManifestReference(ctx.params.reference ?? '');
  const bytes = await readBody(req, rc.limits.manifestBytes, () =>
    ociError('MANIFEST_INVALID', `manifest larger than ${rc.limits.manifestBytes} bytes`, { status: 413 }),
  );
  const digest = 'digest' in ref && !ref.digest.startsWith('sha256:') ? ref.digest : sha256(bytes);
  if ('digest' in ref && ref.digest !== digest) throw ociError('DIGEST_INVALID', 'manifest digest does not match its content', { detail: { expected: ref.digest, found: digest } });
  if (!digest.startsWith('sha256:')) throw ociError('DIGEST_INVALID', 'only sha256 manifest digests are supported', { detail: { digest } });
  const contentType = req.headers['content-type']?.split(';')[0]?.trim();
  let parsed: ReturnType<typeof parseManifest>;
  try {
    parsed = parseManifest(bytes, contentType);
  } catch (e) {
    throw ociError('MANIFEST_INVALID', (e as Error).message);
  }
  const doc = parsed.kind === 'index' ? parsed.index : parsed.manifest;
  const { blobs, manifests } = references(parsed);
  const missing: string[] = [];
  for (const b of blobs) {
    // touch is the existence check and the mark refresh at once (gc.ts): a collection already
    // past its mark phase sees this blob as young and keeps it.
    if (!(await rc.storage.repos.hasBlobLink(name, b.digest)) || !(await rc.storage.blobs.touch(b.digest))) missing.push(b.digest);
  }
  for (const m of manifests) {
    if (!(await rc.storage.repos.getManifest(name, m.digest)) || !(await rc.storage.blobs.touch(m.digest))) missing.push(m.digest);
  }
  if (missing.length) throw ociError('MANIFEST_BLOB_UNKNOWN', `manifest references unknown blobs: ${missing.join(', ')}`, { detail: { digests: missing } });

  const rec: ManifestRecord = { digest, mediaType: doc.mediaType, size: bytes.length };
  if (doc.subject) rec.subject = doc.subject.digest;
  const artifactType = doc.artifactType ?? (parsed.kind === 'manifest' && !isIndexType(doc.mediaType) ? parsed.manifest.config.mediaType : undefined);
  if (artifactType) rec.artifactType = artifactType;
  if (doc.annotations) rec.annotations = doc.annotations;
  // Content, then the revision, then the tag: each step visible only once what it names exists.
  await rc.storage.blobs.put(digest, bytes);
  await rc.storage.repos.putManifest(name, rec);
  if ('tag' in ref) await rc.storage.repos.setTag(name, ref.tag, digest);
  const headers: Record<string, string> = { location: `/v2/${name}/manifests/${digest}`, 'docker-content-digest': digest };
  if (doc.subject) headers['oci-subject'] = doc.subject.digest;
  sendEmpty(res, 201, headers);
}

/** DELETE by digest removes the manifest (and its tags); by tag removes the tag only. */
export async function deleteManifest(rc: RegistryContext, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
  const name = await admit(rc, req, ctx, (n) => [repoAccess(n, 'delete')], { write: true });
  const ref = parseManifestReference(ctx.params.reference ?? '');
  if ('tag' in ref) {
    if (!(await rc.storage.repos.deleteTag(name, ref.tag))) throw ociError('MANIFEST_UNKNOWN', undefined, { detail: { tag: ref.tag } });
  } else if (!(await rc.storage.repos.deleteManifest(name, ref.digest))) {
    throw ociError('MANIFEST_UNKNOWN', undefined, { detail: { digest: ref.digest } });
  }
  sendEmpty(res, 202);
}

