import type { IncomingMessage, ServerResponse } from 'node:http';
import { MediaType } from '../../oci/index.js';
import { sendJson, type RequestContext } from '../../server/index.js';
import { admit, repoAccess, type RegistryContext } from '../context.js';
import { ociError } from '../errors.js';
import { checkDigest } from '../names.js';

const DEFAULT_CATALOG_PAGE = 1000;

function pageParams(ctx: RequestContext, dflt?: number): { n?: number; last?: string } {
  const q = ctx.url.searchParams;
  const out: { n?: number; last?: string } = {};
  const n = q.get('n');
  if (n !== null && n !== '') {
    if (!/^\d+$/.test(n) || !Number.isSafeInteger(Number(n))) throw ociError('UNSUPPORTED', 'n must be a non-negative integer', { status: 400, detail: { n } });
    out.n = Number(n);
  } else if (dflt !== undefined) out.n = dflt;
  const last = q.get('last');
  if (last) out.last = last;
  return out;
}

/** `Link: </v2/...?n=N&last=X>; rel="next"` (RFC 8288), as distribution sends. */
function nextLink(path: string, n: number, last: string): string {
  return `<${path}?n=${n}&last=${encodeURIComponent(last)}>; rel="next"`;
}

/** GET /v2/<name>/tags/list?n=&last= : lexical order, paged with a Link header. */
export async function listTags(rc: RegistryContext, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
  const name = await admit(rc, req, ctx, (n) => [repoAccess(n, 'pull')]);
  if (!(await rc.storage.repos.exists(name))) throw ociError('NAME_UNKNOWN', undefined, { detail: { name } });
  const p = pageParams(ctx);
  const page = await rc.storage.repos.listTags(name, p);
  const headers: Record<string, string> = {};
  const lastItem = page.items[page.items.length - 1];
  if (page.more && p.n && lastItem) headers.link = nextLink(`/v2/${name}/tags/list`, p.n, lastItem);
  sendJson(res, 200, { name, tags: page.items }, headers);
}

/** GET /v2/_catalog?n=&last= */
export async function catalog(rc: RegistryContext, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
  const caller = await rc.auth.authorize(req, [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
  if (caller.user) ctx.user = caller.user;
  const p = pageParams(ctx, DEFAULT_CATALOG_PAGE);
  const page = await rc.storage.repos.repositories(p);
  const headers: Record<string, string> = {};
  const lastItem = page.items[page.items.length - 1];
  if (page.more && p.n && lastItem) headers.link = nextLink('/v2/_catalog', p.n, lastItem);
  sendJson(res, 200, { repositories: page.items }, headers);
}

/** GET /v2/<name>/referrers/<digest>?artifactType= : an image index of the manifests whose subject it is. */
export async function referrers(rc: RegistryContext, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
  const name = await admit(rc, req, ctx, (n) => [repoAccess(n, 'pull')]);
  const d = checkDigest(ctx.params.digest ?? '');
  let manifests = await rc.storage.repos.referrers(name, d);
  const headers: Record<string, string> = { 'content-type': MediaType.OciIndex };
  const filter = ctx.url.searchParams.get('artifactType');
  if (filter) {
    manifests = manifests.filter((m) => m.artifactType === filter);
    headers['oci-filters-applied'] = 'artifactType';
  }
  manifests.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  sendJson(res, 200, { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }, headers);
}
