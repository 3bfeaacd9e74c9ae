import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson, type RequestContext } from '../../server/index.js';
import { admit, repoAccess, type RegistryContext } from '../context.js';
import { ociError } from '../errors.js';

/** GET /v2/ : the API version check. */
export async function apiVersion(rc: RegistryContext, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
  const caller = await rc.auth.authorize(req, [], { credentials: true });
  if (caller.user) ctx.user = caller.user;
  sendJson(res, 200, {});
}

/** DELETE /admin/v1/repositories/<name>: a whole repository, for callers with `*` on it. */
export async function deleteRepository(rc: RegistryContext, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
  const name = await admit(rc, req, ctx, (n) => [repoAccess(n, '*')], { write: true });
  if (!(await rc.storage.repos.deleteRepository(name))) throw ociError('NAME_UNKNOWN', undefined, { detail: { name } });
  sendJson(res, 202, { deleted: name });
}

/** POST /admin/v1/gc?dryRun=true : run the online collector now and report. */
export async function runGc(rc: RegistryContext, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
  const dryRun = ['1', 'true'].includes(ctx.url.searchParams.get('dryRun') ?? ctx.url.searchParams.get('dry-run') ?? '');
  if (!dryRun && rc.readOnly) throw ociError('UNSUPPORTED', 'the registry is in read-only mode', { status: 405 });
  const caller = await rc.auth.authorize(req, [{ type: 'registry', name: 'gc', actions: ['*'] }]);
  if (caller.user) ctx.user = caller.user;
  sendJson(res, 200, await rc.collect({ dryRun }));
}
