import type { IncomingMessage, ServerResponse } from 'node:http';
import { Router, type RequestContext } from '../server/index.js';
import type { RegistryContext } from './context.js';
import { apiVersion, deleteRepository, runGc } from './handlers/admin.js';
import { deleteBlob, getBlob } from './handlers/blobs.js';
import { catalog, listTags, referrers } from './handlers/listings.js';
import { deleteManifest, getManifest, putManifest } from './handlers/manifests.js';
import { cancelUpload, finishUpload, patchUpload, startUpload, uploadStatus } from './handlers/uploads.js';

type RegistryHandler = (rc: RegistryContext, req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => Promise<void>;

// Names contain slashes: a lazy group, with the fixed suffix anchoring each route.
const N = '(?<name>.+?)';

/** The distribution-spec routes (and the admin ones) over a RegistryContext. */
export function registryRouter(rc: RegistryContext, extra?: (r: Router) => void): Router {
  const r = new Router();
  const h = (fn: RegistryHandler) => (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => fn(rc, req, res, ctx);
  extra?.(r);
  r.add('GET', /^\/v2\/?$/, 'base', h(apiVersion));
  r.add('GET', /^\/v2\/_catalog$/, 'catalog', h(catalog));
  r.add('GET', new RegExp(`^/v2/${N}/tags/list$`), 'tags', h(listTags));
  r.add(['GET', 'HEAD'], new RegExp(`^/v2/${N}/manifests/(?<reference>[^/]+)$`), 'manifest', h(getManifest));
  r.add('PUT', new RegExp(`^/v2/${N}/manifests/(?<reference>[^/]+)$`), 'manifest', h(putManifest));
  r.add('DELETE', new RegExp(`^/v2/${N}/manifests/(?<reference>[^/]+)$`), 'manifest', h(deleteManifest));
  r.add('POST', new RegExp(`^/v2/${N}/blobs/uploads/?$`), 'upload-start', h(startUpload));
  const upload = new RegExp(`^/v2/${N}/blobs/uploads/(?<uuid>[^/]+)$`);
  r.add('GET', upload, 'upload', h(uploadStatus));
  r.add('PATCH', upload, 'upload', h(patchUpload));
  r.add('PUT', upload, 'upload', h(finishUpload));
  r.add('DELETE', upload, 'upload', h(cancelUpload));
  const blob = new RegExp(`^/v2/${N}/blobs/(?<digest>[^/]+)$`);
  r.add(['GET', 'HEAD'], blob, 'blob', h(getBlob));
  r.add('DELETE', blob, 'blob', h(deleteBlob));
  r.add('GET', new RegExp(`^/v2/${N}/referrers/(?<digest>[^/]+)$`), 'referrers', h(referrers));
  r.add('DELETE', /^\/admin\/v1\/repositories\/(?<name>.+)$/, 'admin-repository', h(deleteRepository));
  r.add('POST', /^\/admin\/v1\/gc$/, 'admin-gc', h(runGc));
  return r;
}
