import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { sendEmpty, type RequestContext } from '../../server/index.js';
import type { Digest } from '../../oci/index.js';
import { admit, repoAccess, type RegistryContext } from '../context.js';
import { ociError } from '../errors.js';
import { checkDigest } from '../names.js';
import { parseRangeHeader } from '../ranges.js';

/** A blob is visible in a repository once linked there (uploaded, mounted) or as one of its manifests. */
export async function visibleIn(rc: RegistryContext, name: string, d: Digest): Promise<boolean> {
  return (await rc.storage.repos.hasBlobLink(name, d)) || (await rc.storage.repos.getManifest(name, d)) !== undefined;
}

/** GET/HEAD /v2/<name>/blobs/<digest>, with a single byte Range. */
export async function getBlob(rc: RegistryContext, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
  const name = await admit(rc, req, ctx, (n) => [repoAccess(n, 'pull')]);
  const d = checkDigest(ctx.params.digest ?? '');
  const st = (await visibleIn(rc, name, d)) ? await rc.storage.blobs.stat(d) : undefined;
  if (!st) throw ociError('BLOB_UNKNOWN', undefined, { detail: { digest: d } });
  const headers: Record<string, string | number> = {
    'content-type': 'application/octet-stream',
    'docker-content-digest': d,
    etag: `"${d}"`,
    'accept-ranges': 'bytes',
    'cache-control': 'max-age=31536000',
  };
  const range = parseRangeHeader(req.headers.range, st.size);
  if (range === 'unsatisfiable') {
    throw ociError('RANGE_INVALID', 'requested range not satisfiable', { headers: { 'content-range': `bytes */${st.size}` } });
  }
  if (req.method === 'HEAD') {
    res.writeHead(200, { ...headers, 'content-length': st.size });
    res.end();
    return;
  }
  const opened = await rc.storage.blobs.open(d, { ...(range ? { range } : {}), signal: ctx.signal });
  if ('redirect' in opened) {
    res.writeHead(307, { location: opened.redirect, 'docker-content-digest': d, 'content-length': 0 });
    res.end();
    return;
  }
  if (range) {
    headers['content-range'] = `bytes ${range.start}-${range.end - 1}/${st.size}`;
    res.writeHead(206, { ...headers, 'content-length': opened.size });
  } else {
    res.writeHead(200, { ...headers, 'content-length': opened.size });
  }
  await pipeline(opened.stream, res);
}

/** DELETE /v2/<name>/blobs/<digest>: unlink from the repository; the collector frees the bytes. */
export async function deleteBlob(rc: RegistryContext, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
  const name = await admit(rc, req, ctx, (n) => [repoAccess(n, 'delete')], { write: true });
  const d = checkDigest(ctx.params.digest ?? '');
  if (!(await rc.storage.repos.unlinkBlob(name, d))) throw ociError('BLOB_UNKNOWN', undefined, { detail: { digest: d } });
  sendEmpty(res, 202, { 'docker-content-digest': d });
}
