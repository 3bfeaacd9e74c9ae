import type { IncomingMessage, ServerResponse } from 'node:http';
import { isCode } from '../../errors/index.js';
import { isDigest, type Digest } from '../../oci/index.js';
import { sendEmpty, type RequestContext } from '../../server/index.js';
import { admit, repoAccess, type RegistryContext } from '../context.js';
import { ociError } from '../errors.js';
import { checkDigest, isRepositoryName } from '../names.js';
import { parseContentRange, uploadRange } from '../ranges.js';
import type { UploadInfo } from '../storage/index.js';

const uploadUrl = (name: string, id: string) => `/v2/${name}/blobs/uploads/${id}`;
const blobUrl = (name: string, d: string) => `/v2/${name}/blobs/${d}`;

function sendUploadState(res: ServerResponse, status: number, name: string, u: { id: string; offset: number }): void {
  sendEmpty(res, status, {
    location: uploadUrl(name, u.id),
    range: uploadRange(u.offset),
    'docker-upload-uuid': u.id,
  });
}

function sendCreated(res: ServerResponse, name: string, d: Digest): void {
  sendEmpty(res, 201, { location: blobUrl(name, d), 'docker-content-digest': d });
}

const hasBody = (req: IncomingMessage) => Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;

/** The upload named in the URL, which must belong to this repository. */
async function findUpload(rc: RegistryContext, name: string, id: string): Promise<UploadInfo> {
  const u = await rc.storage.uploads.info(id);
  if (!u || u.repository !== name) throw ociError('BLOB_UPLOAD_UNKNOWN', undefined, { detail: { uuid: id } });
  return u;
}

/** Append the request body at `at`, mapping storage refusals to the spec's answers. */
async function appendBody(rc: RegistryContext, req: IncomingMessage, ctx: RequestContext, name: string, u: UploadInfo, at: number): Promise<number> {
  try {
    return await rc.storage.uploads.append(u.id, at, req, { signal: ctx.signal, maxBytes: rc.limits.blobBytes });
  } catch (e) {
    if (isCode(e, 'CONFLICT')) {
      const offset = ((e as { detail?: { offset?: number } }).detail?.offset ?? (await rc.storage.uploads.info(u.id))?.offset ?? 0) as number;
      throw ociError('RANGE_INVALID', 'chunk does not start at the upload offset', {
        headers: { location: uploadUrl(name, u.id), range: uploadRange(offset), 'docker-upload-uuid': u.id },
      });
    }
    if (isCode(e, 'SIZE_MISMATCH')) throw ociError('SIZE_INVALID', (e as Error).message, { status: 413 });
    if (isCode(e, 'NOT_FOUND')) throw ociError('BLOB_UPLOAD_UNKNOWN', undefined, { detail: { uuid: u.id } });
    throw e;
  }
}

/** Check a chunk's Content-Range against the upload offset and Content-Length (416 otherwise). */
function chunkStart(req: IncomingMessage, name: string, u: UploadInfo): number {
  const h = req.headers['content-range'];
  if (h === undefined) return u.offset;
  const r = parseContentRange(h);
  const len = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
  if (!r || r.start !== u.offset || (len !== undefined && len !== r.end - r.start + 1)) {
    throw ociError('RANGE_INVALID', r ? 'chunk does not start at the upload offset' : 'invalid Content-Range', {
      headers: { location: uploadUrl(name, u.id), range: uploadRange(u.offset), 'docker-upload-uuid': u.id },
    });
  }
  return r.start;
}

async function commit(rc: RegistryContext, res: ServerResponse, name: string, id: string, d: Digest): Promise<void> {
  try {
    await rc.storage.uploads.commit(id, d);
  } catch (e) {
    if (isCode(e, 'DIGEST_MISMATCH')) throw ociError('DIGEST_INVALID', (e as Error).message, { detail: (e as { detail?: unknown }).detail });
    if (isCode(e, 'NOT_FOUND')) throw ociError('BLOB_UPLOAD_UNKNOWN', undefined, { detail: { uuid: id } });
    throw e;
  }
  await rc.storage.repos.linkBlob(name, d);
  sendCreated(res, name, d);
}

/**
 * POST /v2/<name>/blobs/uploads/: cross-repository mount (`mount=&from=`), monolithic upload
 * (`digest=` with the body), or a new upload session.
 */
export async function startUpload(rc: RegistryContext, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
  const q = ctx.url.searchParams;
  const mount = q.get('mount');
  const from = q.get('from');
  const name = await admit(
    rc,
    req,
    ctx,
    (n) => [repoAccess(n, 'pull', 'push'), ...(mount && from && isRepositoryName(from) && from !== n ? [repoAccess(from, 'pull')] : [])],
    { write: true },
  );
  if (mount !== null) {
    const d = checkDigest(mount);
    if (from !== null && !isRepositoryName(from)) throw ociError('NAME_INVALID', 'invalid repository name', { detail: { from } });
    // Without from=, the spec lets a registry look everywhere; with access control on, that
    // would expose blobs of repositories the caller cannot read, so only an open registry does.
    const source = from ?? (rc.auth.mode === 'none' ? undefined : null);
    const linked = source === null ? false : source === undefined ? true : await rc.storage.repos.hasBlobLink(source, d);
    // touch: the blob counts as referenced now, so a running collector keeps it (gc.ts).
    if (linked && (await rc.storage.blobs.touch(d))) {
      await rc.storage.repos.linkBlob(name, d);
      sendCreated(res, name, d);
      return;
    }
  }
  const digest = q.get('digest');
  if (digest !== null) {
    const d = checkDigest(digest);
    const u = await rc.storage.uploads.start(name);
    try {
      await appendBody(rc, req, ctx, name, u, 0);
    } catch (e) {
      await rc.storage.uploads.cancel(u.id);
      throw e;
    }
    await commit(rc, res, name, u.id, d);
    return;
  }
  const u = await rc.storage.uploads.start(name);
  if (hasBody(req)) req.resume();
  sendUploadState(res, 202, name, u);
}

/** GET /v2/<name>/blobs/uploads/<uuid>: how far the upload got (204 with Range). */
export async function uploadStatus(rc: RegistryContext, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
  const name = await admit(rc, req, ctx, (n) => [repoAccess(n, 'pull', 'push')]);
  const u = await findUpload(rc, name, ctx.params.uuid ?? '');
  sendUploadState(res, 204, name, u);
}

/** PATCH: one chunk (with Content-Range) or a streamed body (without), at the upload offset. */
export async function patchUpload(rc: RegistryContext, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
  const name = await admit(rc, req, ctx, (n) => [repoAccess(n, 'pull', 'push')], { write: true });
  const u = await findUpload(rc, name, ctx.params.uuid ?? '');
  const start = chunkStart(req, name, u);
  const r = req.headers['content-range'] ? parseContentRange(req.headers['content-range']) : undefined;
  const offset = await appendBody(rc, req, ctx, name, u, start);
  if (r && offset !== r.end + 1) throw ociError('SIZE_INVALID', `chunk ended at ${offset - 1}, not ${r.end}`);
  sendUploadState(res, 202, name, { id: u.id, offset });
}

/** PUT ?digest=: the optional last chunk, then verify and make the blob visible. */
export async function finishUpload(rc: RegistryContext, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
  const name = await admit(rc, req, ctx, (n) => [repoAccess(n, 'pull', 'push')], { write: true });
  const u = await findUpload(rc, name, ctx.params.uuid ?? '');
  const digest = ctx.url.searchParams.get('digest');
  if (digest === null || !isDigest(digest)) throw ociError('DIGEST_INVALID', 'a digest query parameter is required', { detail: { digest } });
  if (hasBody(req)) await appendBody(rc, req, ctx, name, u, chunkStart(req, name, u));
  await commit(rc, res, name, u.id, digest);
}

/** DELETE: cancel the upload. */
export async function cancelUpload(rc: RegistryContext, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
  const name = await admit(rc, req, ctx, (n) => [repoAccess(n, 'pull', 'push')], { write: true });
  const u = await findUpload(rc, name, ctx.params.uuid ?? '');
  await rc.storage.uploads.cancel(u.id);
  sendEmpty(res, 204);
}
