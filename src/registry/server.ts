import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { parseListenAddress, startHttpServer, silentLogger, type Logger, type RunningHttpServer } from '../server/index.js';
import { AccessPolicy, Htpasswd, HtpasswdAuthorizer, OpenAuthorizer, TokenAuthorizer, TokenIssuer, publicKeyFromPem, type Authorizer } from './auth/index.js';
import { registryRouter } from './app.js';
import type { RegistryConfig } from './config.js';
import type { RegistryContext } from './context.js';
import { registryErrorMapper } from './errors.js';
import { collectGarbage, type GcReport } from './gc.js';
import { ManifestCache } from './manifest-cache.js';
import { FsRegistryStorage, type RegistryStorage } from './storage/index.js';

export interface RegistryServerOptions {
  config: RegistryConfig;
  /** Request log and collector reports (default: silent). */
  logger?: Logger;
  /** Another backend; default the filesystem under config.root. */
  storage?: RegistryStorage;
}

export interface RunningRegistryServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`: the registry part of image references. */
  host: string;
  port: number;
  storage: RegistryStorage;
  http: RunningHttpServer;
  /** Run the online collector now (one at a time; a second call shares the running one). */
  collect(o?: { dryRun?: boolean }): Promise<GcReport>;
  /** Graceful shutdown: in-flight requests finish (up to graceMs), the collector stops. */
  close(o?: { graceMs?: number }): Promise<void>;
}

async function buildAuth(cfg: RegistryConfig): Promise<{ auth: Authorizer; issuer?: TokenIssuer }> {
  const policy = new AccessPolicy({ anonymousRead: cfg.auth.anonymousRead, admins: cfg.auth.admins, ...(cfg.auth.access ? { rules: cfg.auth.access } : {}) });
  const users = cfg.auth.htpasswd ? await Htpasswd.load(cfg.auth.htpasswd) : Htpasswd.parse('');
  const t = cfg.auth.token;
  if (t) {
    if (t.publicKey) {
      const key = publicKeyFromPem(await readFile(t.publicKey, 'utf8'));
      return { auth: new TokenAuthorizer({ realm: t.realm!, service: t.service, issuer: t.issuer, keys: [key], policy }) };
    }
    const issuer = new TokenIssuer({ issuer: t.issuer, service: t.service, users, policy, ttlSeconds: t.ttlSeconds, ...(t.signingKey ? { privateKeyPem: await readFile(t.signingKey, 'utf8') } : {}) });
    const scheme = cfg.tls ? 'https' : 'http';
    const realm = t.realm ?? ((req: IncomingMessage) => `${scheme}://${req.headers.host ?? 'localhost'}/token`);
    return { auth: new TokenAuthorizer({ realm, service: t.service, issuer: t.issuer, keys: [issuer.publicKey], policy }), issuer };
  }
  if (cfg.auth.htpasswd) return { auth: new HtpasswdAuthorizer(users, policy) };
  return { auth: new OpenAuthorizer() };
}

/**
 * Start an OCI distribution-spec registry: the same server `lading registry serve` runs, for
 * embedding in a Node program.
 *
 *   const reg = await startRegistryServer({ config: resolveRegistryConfig({ flags: { addr: '127.0.0.1:0', root }, defaultRoot: root }) });
 *   // … push and pull at reg.url …
 *   await reg.close();
 */
export async function startRegistryServer(o: RegistryServerOptions): Promise<RunningRegistryServer> {
  const cfg = o.config;
  const logger = o.logger ?? silentLogger();
  let storage = o.storage;
  if (!storage) {
    const fs = new FsRegistryStorage(cfg.root);
    await fs.init();
    storage = fs;
  }
  const { auth, issuer } = await buildAuth(cfg);
  let running: Promise<GcReport> | undefined;
  const collect = (co: { dryRun?: boolean } = {}): Promise<GcReport> => {
    running ??= collectGarbage(storage, { dryRun: !!co.dryRun, gracePeriodMs: cfg.gc.gracePeriodMs, uploadTtlMs: cfg.gc.uploadTtlMs, logger }).finally(() => {
      running = undefined;
    });
    return running;
  };
  const rc: RegistryContext = { storage, auth, readOnly: cfg.readOnly, limits: cfg.limits, cache: new ManifestCache(), logger, collect };
  const router = registryRouter(rc, (r) => {
    if (issuer) {
      r.add('GET', /^\/token$/, 'token', async (req, res, ctx) => {
        const user = await issuer.handle(req, res, ctx.url);
        if (user) ctx.user = user;
      });
      r.add('POST', /^\/token$/, 'token', async (req, res, ctx) => {
        const user = await issuer.handlePost(req, res);
        if (user) ctx.user = user;
      });
    }
  });
  const tls = cfg.tls ? { cert: await readFile(cfg.tls.cert), key: await readFile(cfg.tls.key) } : undefined;
  const http = await startHttpServer(
    { router, onError: registryErrorMapper(logger), logger, ...(tls ? { tls } : {}), headers: { 'docker-distribution-api-version': 'registry/2.0' } },
    parseListenAddress(cfg.addr),
  );
  let timer: NodeJS.Timeout | undefined;
  if (cfg.gc.intervalMs > 0 && !cfg.readOnly) {
    timer = setInterval(() => {
      collect().catch((e: unknown) => logger.error({ err: (e as Error).message }, 'gc: failed'));
    }, cfg.gc.intervalMs);
    timer.unref();
  }
  return {
    url: http.url,
    host: http.host,
    port: http.port,
    storage,
    http,
    collect,
    close: async (co = {}) => {
      if (timer) clearInterval(timer);
      await http.close(co);
      await running?.catch(() => {});
      logger.flush?.();
    },
  };
}
