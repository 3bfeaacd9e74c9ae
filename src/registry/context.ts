import type { IncomingMessage } from 'node:http';
import type { Logger, RequestContext } from '../server/index.js';
import type { Access, Authorizer } from './auth/index.js';
import { ociError } from './errors.js';
import { ManifestCache } from './manifest-cache.js';
import { checkName } from './names.js';
import type { RegistryStorage } from './storage/index.js';
import type { GcReport } from './gc.js';

export interface RegistryLimits {
  /** Largest manifest accepted (the spec's 4 MiB by default). */
  manifestBytes: number;
  /** Largest blob (per upload) accepted. */
  blobBytes: number;
}

/** What every handler works with. */
export interface RegistryContext {
  storage: RegistryStorage;
  auth: Authorizer;
  readOnly: boolean;
  limits: RegistryLimits;
  cache: ManifestCache;
  logger: Logger | undefined;
  /** Run the online collector (admin endpoint). */
  collect(o: { dryRun: boolean }): Promise<GcReport>;
}

export const repoAccess = (name: string, ...actions: string[]): Access => ({ type: 'repository', name, actions });

/** Validate the name, refuse writes in read-only mode, then authorize. */
export async function admit(
  rc: RegistryContext,
  req: IncomingMessage,
  ctx: RequestContext,
  needed: (name: string) => Access[],
  o: { write?: boolean } = {},
): Promise<string> {
  const name = checkName(ctx.params.name ?? '');
  if (o.write && rc.readOnly) throw ociError('UNSUPPORTED', 'the registry is in read-only mode', { status: 405 });
  const caller = await rc.auth.authorize(req, needed(name));
  if (caller.user) ctx.user = caller.user;
  return name;
}
