import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { LadingError, canceled, isCode, redact } from '../errors/index.js';
import { SingleFlight, backoffDelay, retryAfterMs, systemClock, type Clock } from '../util/index.js';
import { isInternalHost } from './address.js';
import { parseChallenges, type Challenge } from './challenge.js';
import type { AuthConfig, Credentials } from './credentials.js';
import { RegistryHosts, type Endpoint, type HostsConfig } from './hosts.js';
import type { Logger } from './logger.js';
import {
  TEMPORARY_STATUSES,
  errorsString,
  isRetryableNetworkError,
  networkError,
  parseErrorBody,
  readErrorResponse,
  readPrefix,
  registryError,
  urlErrorPrefix,
} from './registry-errors.js';

export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
export type Headers = Record<string, string | string[] | undefined>;
/** A request body; a factory is called once per attempt so retries and redirects can resend it. */
export type RequestBody = string | Uint8Array | (() => Readable | Promise<Readable>);

export interface TransportRequest {
  /** Registry name as in a reference: `docker.io`, `127.0.0.1:5000`. */
  registry: string;
  /** Repository path for the token scope (`library/busybox`); none for `/v2/` and catalog. */
  repository?: string;
  /** Token scope actions for `repository`; default `['pull']`. */
  actions?: Array<'pull' | 'push' | 'delete'>;
  /** Further scopes, e.g. `repository:other/repo:pull` for a cross-repository mount. */
  scopes?: string[];
  method: HttpMethod;
  /** `/v2/...` (with query) relative to the endpoint, or an absolute URL (an upload's Location). */
  path: string;
  headers?: Record<string, string>;
  body?: RequestBody;
  /** Retry on connection errors and temporary statuses; default for GET and HEAD. */
  idempotent?: boolean;
  /** Try configured mirrors first; default when `actions` is pull only. */
  mirrors?: boolean;
  /** Follow redirects (by hand); default true. */
  followRedirects?: boolean;
  signal?: AbortSignal;
}

export interface TransportResponse {
  statusCode: number;
  headers: Headers;
  body: Dispatcher.ResponseData['body'];
  /** The URL that answered, after redirects. */
  url: string;
  /** The endpoint (mirror or upstream) that served the request. */
  endpoint: Endpoint;
}

export interface TransportOptions {
  /** One keep-alive Agent for the engine. */
  agent: Dispatcher;
  credentials?: Credentials;
  hosts?: RegistryHosts | HostsConfig;
  clock?: Clock;
  userAgent?: string;
  logger?: Logger;
  /** Attempts for idempotent requests (first try included). */
  maxAttempts?: number;
  maxRedirects?: number;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

export interface TokenResult {
  token: string;
  expiresIn: number;
  refreshToken?: string;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const DEFAULT_TOKEN_TTL_S = 60;
const MAX_TOKEN_BODY = 1024 * 1024;
const CREDENTIALS_TTL_MS = 60_000;

const header = (h: Headers, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * The registry transport, ggcr's stack in one class: ping each endpoint once (cached) to learn
 * its challenge; Bearer tokens per (endpoint, scope) honouring expires_in, refreshed once on 401;
 * Basic when challenged Basic; retries for idempotent requests with jittered backoff and
 * Retry-After; redirects followed by hand (Authorization dropped on another host, public-to-private
 * redirects refused); mirrors tried before the upstream for pulls.
 */
export class Transport {
  readonly hosts: RegistryHosts;
  private readonly agent: Dispatcher;
  private readonly credentials: Credentials | undefined;
  private readonly clock: Clock;
  private readonly userAgent: string;
  private readonly logger: Logger | undefined;
  private readonly maxAttempts: number;
  private readonly maxRedirects: number;
  private readonly challenges = new Map<string, Challenge[]>();
  private readonly pingFlight = new SingleFlight<Challenge[]>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly tokenFlight = new SingleFlight<string>();
  private readonly creds = new Map<string, { at: number; p: Promise<AuthConfig | undefined> }>();

  constructor(o: TransportOptions) {
    this.agent = o.agent;
    this.credentials = o.credentials;
    this.hosts = o.hosts instanceof RegistryHosts ? o.hosts : new RegistryHosts(o.hosts ?? {});
    this.clock = o.clock ?? systemClock;
    this.userAgent = o.userAgent ?? 'lading';
    this.logger = o.logger;
    this.maxAttempts = Math.max(1, o.maxAttempts ?? 5);
    this.maxRedirects = o.maxRedirects ?? 10;
  }

  /**
   * Send a request. Any final status is returned (the caller owns the body and decides what a 404
   * means); thrown errors are network failures (UNAVAILABLE, Docker's wording), auth failures at
   * the token server (UNAUTHORIZED), redirect violations and CANCELED.
   */
  async request(req: TransportRequest): Promise<TransportResponse> {
    const actions = req.actions ?? ['pull'];
    const pullOnly = actions.every((a) => a === 'pull');
    const endpoints = this.hosts.endpoints(req.registry, { pull: req.mirrors ?? pullOnly });
    for (let i = 0; ; i++) {
      const ep = endpoints[i]!;
      const last = i === endpoints.length - 1;
      if (last) return this.requestEndpoint(ep, req);
      try {
        const res = await this.requestEndpoint(ep, req);
        if (res.statusCode < 400) return res;
        this.logger?.log('warn', 'mirror failed, trying next endpoint', { mirror: ep.base, status: res.statusCode });
        await res.body.dump().catch(() => {});
      } catch (e) {
        if (isCode(e, 'CANCELED')) throw e;
        this.logger?.log('warn', 'mirror failed, trying next endpoint', { mirror: ep.base, error: (e as Error).message });
      }
    }
  }

  /** Is this registry reached over plain HTTP? */
  isInsecure(registry: string): boolean {
    return this.hosts.isInsecure(registry);
  }

  /** Ping `/v2/` (cached per endpoint) and return its challenges; [] when no auth is needed. */
  async ping(ep: Endpoint, signal?: AbortSignal): Promise<Challenge[]> {
    const cached = this.challenges.get(ep.base);
    if (cached) return cached;
    for (;;) {
      try {
        return await this.pingFlight.do(ep.base, () => this.doPing(ep, signal));
      } catch (e) {
        // Another caller's cancellation ended the shared ping: ours is still wanted.
        if (isCode(e, 'CANCELED') && !signal?.aborted) continue;
        throw e;
      }
    }
  }

  /**
   * Check credentials the way `docker login` does: Bearer registries must issue a token for
   * them, Basic registries must accept them on `/v2/`, registries without auth accept anything.
   * Returns the refresh token a registry may issue (store it as identitytoken).
   */
  async verifyCredentials(registry: string, auth: AuthConfig, o: { signal?: AbortSignal } = {}): Promise<{ identityToken?: string }> {
    const ep = this.hosts.upstream(registry);
    const url = `${ep.base}/v2/`;
    // A fresh ping: login is when a registry's auth setup is most likely to have changed.
    this.challenges.delete(ep.base);
    const challenges = await this.ping(ep, o.signal);
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    if (bearer) {
      const t = await this.fetchToken(ep, bearer, [], auth, { signal: o.signal, method: 'GET', url, offline: true });
      return t.refreshToken ? { identityToken: t.refreshToken } : {};
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      const authz = basicHeader(auth);
      const res = await this.withRetry('GET', url, true, o.signal, () =>
        this.follow(url, 'GET', this.baseHeaders(authz ? { authorization: authz } : {}), undefined, o.signal, true),
      );
      await res.res.body.dump().catch(() => {});
      if (res.res.statusCode === 401) throw new LadingError('UNAUTHORIZED', `login attempt to ${url} failed with status: 401 Unauthorized`);
      if (res.res.statusCode >= 400) throw new LadingError('UNAVAILABLE', `login attempt to ${url} failed with status: ${res.res.statusCode}`);
    }
    return {};
  }

  private async requestEndpoint(ep: Endpoint, req: TransportRequest): Promise<TransportResponse> {
    const { signal } = req;
    await this.ping(ep, signal);
    const url = /^https?:\/\//i.test(req.path) ? req.path : `${ep.base}${req.path}`;
    const actions = req.actions ?? ['pull'];
    let scopes = [...(req.repository ? [`repository:${req.repository}:${actions.join(',')}`] : []), ...(req.scopes ?? [])];
    const idempotent = req.idempotent ?? (req.method === 'GET' || req.method === 'HEAD');
    const follow = req.followRedirects ?? true;
    const ctx = { method: req.method, url };
    const sameHost = new URL(url).host === ep.host;
    const r = await this.withRetry(req.method, url, idempotent, signal, async () => {
      // Credentials belong to the endpoint: an absolute URL elsewhere (an upload Location) gets none.
      const authz = sameHost ? await this.authorization(ep, scopes, signal, false, ctx) : undefined;
      const headers = this.baseHeaders({ ...req.headers, ...(authz ? { authorization: authz } : {}) });
      let out = await this.follow(url, req.method, headers, req.body, signal, follow);
      if (sameHost && out.res.statusCode === 401 && new URL(out.url).host === ep.host) {
        // One refresh: the token expired, or the registry wants a scope we did not ask for.
        const fresh = parseChallenges(out.res.headers['www-authenticate']);
        if (fresh.length > 0) this.challenges.set(ep.base, fresh);
        const wanted = fresh.find((c) => c.scheme === 'bearer')?.params.scope;
        if (wanted) for (const s of wanted.split(' ')) if (s && !scopes.includes(s)) scopes = [...scopes, s];
        const authz2 = await this.authorization(ep, scopes, signal, true, ctx);
        if (authz2 !== undefined && (authz2 !== authz || authz2.startsWith('Bearer '))) {
          await out.res.body.dump().catch(() => {});
          out = await this.follow(url, req.method, this.baseHeaders({ ...req.headers, authorization: authz2 }), req.body, signal, follow);
        }
      }
      return out;
    });
    return { statusCode: r.res.statusCode, headers: r.res.headers, body: r.res.body, url: r.url, endpoint: ep };
  }

  private baseHeaders(h: Record<string, string>): Record<string, string> {
    return { 'user-agent': this.userAgent, ...h };
  }

  private async doPing(ep: Endpoint, signal: AbortSignal | undefined): Promise<Challenge[]> {
    const url = `${ep.base}/v2/`;
    const { res } = await this.withRetry('GET', url, true, signal, () => this.follow(url, 'GET', this.baseHeaders({}), undefined, signal, true));
    let challenges: Challenge[] = [];
    if (res.statusCode === 401) {
      challenges = parseChallenges(res.headers['www-authenticate']);
      await res.body.dump().catch(() => {});
    } else if (res.statusCode >= 500) {
      const er = await readErrorResponse(res);
      throw registryError(er, `${urlErrorPrefix('GET', url)}: ${er.text}`, { code: 'UNAVAILABLE' });
    } else {
      // 200, or a registry that answers /v2/ oddly (404): treat as needing no auth.
      await res.body.dump().catch(() => {});
    }
    this.challenges.set(ep.base, challenges);
    return challenges;
  }

  private lookupCredentials(ep: Endpoint, signal: AbortSignal | undefined): Promise<AuthConfig | undefined> {
    if (!this.credentials) return Promise.resolve(undefined);
    // A mirror gets its own credentials, never the upstream's.
    const key = ep.mirror ? ep.host : ep.registry;
    // Cached briefly: a helper is a process spawn, but a long-lived engine must see a new login.
    const hit = this.creds.get(key);
    if (hit && this.clock.now() - hit.at < CREDENTIALS_TTL_MS) return hit.p;
    const p = this.credentials.lookup(key, signal ? { signal } : {});
    const entry = { at: this.clock.now(), p };
    this.creds.set(key, entry);
    p.catch(() => {
      if (this.creds.get(key) === entry) this.creds.delete(key);
    });
    return p;
  }

  /** The Authorization value for a request to `ep` under the challenge learnt from it, if any. */
  private async authorization(
    ep: Endpoint,
    scopes: string[],
    signal: AbortSignal | undefined,
    force: boolean,
    ctx: { method: string; url: string },
  ): Promise<string | undefined> {
    const challenges = this.challenges.get(ep.base) ?? [];
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (!bearer && !basic) return undefined;
    const creds = await this.lookupCredentials(ep, signal);
    if (bearer) {
      if (creds?.registrytoken) return `Bearer ${creds.registrytoken}`;
      const service = bearer.params.service ?? '';
      const key = `${ep.base}|${service}|${[...scopes].sort().join(' ')}`;
      if (force) this.tokens.delete(key);
      const cached = this.tokens.get(key);
      if (cached && cached.expiresAt > this.clock.now()) return `Bearer ${cached.token}`;
      for (;;) {
        try {
          const token = await this.tokenFlight.do(key, async () => {
            const t = await this.fetchToken(ep, bearer, scopes, creds, { signal, method: ctx.method, url: ctx.url });
            this.tokens.set(key, { token: t.token, expiresAt: this.clock.now() + t.expiresIn * 1000 });
            return t.token;
          });
          return `Bearer ${token}`;
        } catch (e) {
          if (isCode(e, 'CANCELED') && !signal?.aborted) continue;
          throw e;
        }
      }
    }
    return creds ? basicHeader(creds) : undefined;
  }

  /**
   * Ask the realm for a token: OAuth2 POST with the refresh token when the credentials hold an
   * identity token (falling back to GET where the realm has no OAuth endpoint), else GET with
   * Basic credentials or anonymously.
   */
  async fetchToken(
    ep: Endpoint,
    challenge: Challenge,
    scopes: string[],
    creds: AuthConfig | undefined,
    o: { signal?: AbortSignal | undefined; method: string; url: string; offline?: boolean },
  ): Promise<TokenResult> {
    const realmStr = challenge.params.realm ?? '';
    let realm: URL;
    try {
      realm = new URL(realmStr);
    } catch {
      throw new LadingError('UNAVAILABLE', `${urlErrorPrefix(o.method, o.url)}: invalid token realm ${JSON.stringify(realmStr)}`);
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw new LadingError('UNAVAILABLE', `${urlErrorPrefix(o.method, o.url)}: invalid token realm ${JSON.stringify(realmStr)}`);
    }
    const service = challenge.params.service;
    let res: Awaited<ReturnType<Transport['follow']>>['res'] | undefined;
    if (creds?.identitytoken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identitytoken, client_id: 'lading' });
      if (service) form.set('service', service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      if (o.offline) form.set('access_type', 'offline');
      const body = form.toString();
      ({ res } = await this.withRetry('POST', realm.href, true, o.signal, () =>
        this.follow(realm.href, 'POST', this.baseHeaders({ 'content-type': 'application/x-www-form-urlencoded' }), body, o.signal, true),
      ));
      if (res.statusCode === 404 || res.statusCode === 405) {
        await res.body.dump().catch(() => {});
        res = undefined;
      }
    }
    if (!res) {
      const u = new URL(realm.href);
      if (service) u.searchParams.set('service', service);
      for (const s of scopes) u.searchParams.append('scope', s);
      if (o.offline) {
        if (creds?.username) u.searchParams.set('account', creds.username);
        u.searchParams.set('client_id', 'lading');
        u.searchParams.set('offline_token', 'true');
      }
      const authz = creds ? basicHeader(creds) : undefined;
      const href = u.href;
      ({ res } = await this.withRetry('GET', href, true, o.signal, () =>
        this.follow(href, 'GET', this.baseHeaders(authz ? { authorization: authz } : {}), undefined, o.signal, true),
      ));
    }
    if (res.statusCode === 401 || res.statusCode === 403) {
      const body = await readPrefix(res.body);
      throw new LadingError('UNAUTHORIZED', `${urlErrorPrefix(o.method, o.url)}: ${tokenErrorText(body)}`, { detail: { status: res.statusCode } });
    }
    if (res.statusCode >= 300) {
      const er = await readErrorResponse(res);
      throw registryError(er, `${urlErrorPrefix('GET', realm.origin + realm.pathname)}: ${er.text}`, { code: er.temporary ? 'UNAVAILABLE' : er.code });
    }
    const body = await readPrefix(res.body, MAX_TOKEN_BODY);
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new LadingError('UNAVAILABLE', `${urlErrorPrefix('GET', realm.origin + realm.pathname)}: invalid token response`);
    }
    const token = typeof doc.token === 'string' && doc.token ? doc.token : typeof doc.access_token === 'string' ? doc.access_token : '';
    if (!token) throw new LadingError('UNAVAILABLE', `${urlErrorPrefix('GET', realm.origin + realm.pathname)}: token response has no token`);
    const exp = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : DEFAULT_TOKEN_TTL_S;
    const out: TokenResult = { token, expiresIn: exp };
    if (typeof doc.refresh_token === 'string' && doc.refresh_token) out.refreshToken = doc.refresh_token;
    return out;
  }

  /**
   * Retry an idempotent exchange on connection errors and temporary statuses (408, 429, 5xx),
   * with jittered exponential backoff or the server's Retry-After. Never retries cancellation.
   */
  private async withRetry<T extends { res: Dispatcher.ResponseData }>(
    method: string,
    url: string,
    idempotent: boolean,
    signal: AbortSignal | undefined,
    fn: () => Promise<T>,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) throw canceled(signal);
      const more = idempotent && attempt + 1 < this.maxAttempts;
      let out: T;
      try {
        out = await fn();
      } catch (e) {
        if (signal?.aborted) throw canceled(signal);
        if (e instanceof LadingError) throw e;
        if (more && isRetryableNetworkError(e)) {
          const wait = backoffDelay(attempt, this.clock);
          this.logger?.log('debug', 'retrying after a connection error', { method, url: redact(url), attempt: attempt + 1, wait, error: (e as Error).message });
          await this.sleep(wait, signal);
          continue;
        }
        throw networkError(method, url, e);
      }
      if (more && TEMPORARY_STATUSES.has(out.res.statusCode)) {
        const wait = retryAfterMs(header(out.res.headers, 'retry-after'), this.clock) ?? backoffDelay(attempt, this.clock);
        this.logger?.log('debug', 'retrying after a temporary status', { method, url: redact(url), status: out.res.statusCode, attempt: attempt + 1, wait });
        await out.res.body.dump().catch(() => {});
        await this.sleep(wait, signal);
        continue;
      }
      return out;
    }
  }

  private async sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    try {
      await this.clock.sleep(ms, signal);
    } catch (e) {
      if (signal?.aborted) throw canceled(signal);
      throw e;
    }
  }

  /**
   * One exchange with redirects followed by hand (max `maxRedirects`): Authorization goes only to
   * the original host, and a public host may not send us to a private or loopback address.
   */
  private async follow(
    url: string,
    method: HttpMethod,
    headers: Record<string, string>,
    body: RequestBody | undefined,
    signal: AbortSignal | undefined,
    followRedirects: boolean,
  ): Promise<{ res: Dispatcher.ResponseData; url: string }> {
    const first = new URL(url);
    const fromInternal = isInternalHost(first.hostname);
    let cur = first;
    let m = method;
    let b = body;
    for (let hops = 0; ; hops++) {
      const h = cur.host === first.host ? headers : withoutAuthorization(headers);
      const payload = typeof b === 'function' ? await b() : b;
      const res = await this.agent.request({
        origin: cur.origin,
        path: `${cur.pathname}${cur.search}`,
        method: m,
        headers: h,
        ...(payload !== undefined ? { body: payload } : {}),
        ...(signal ? { signal } : {}),
      });
      const location = header(res.headers, 'location');
      if (!followRedirects || !REDIRECT_STATUSES.has(res.statusCode) || !location) return { res, url: cur.href };
      await res.body.dump().catch(() => {});
      if (hops + 1 > this.maxRedirects) {
        throw new LadingError('UNAVAILABLE', `${urlErrorPrefix(method, url)}: stopped after ${this.maxRedirects} redirects`);
      }
      let next: URL;
      try {
        next = new URL(location, cur);
      } catch {
        throw new LadingError('UNAVAILABLE', `${urlErrorPrefix(method, url)}: invalid redirect location ${JSON.stringify(redact(location))}`);
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new LadingError('UNAVAILABLE', `${urlErrorPrefix(method, url)}: unsupported redirect to ${next.protocol}`);
      }
      if (!fromInternal && isInternalHost(next.hostname)) {
        throw new LadingError('DENIED', `${urlErrorPrefix(method, url)}: refusing redirect from ${first.host} to private address ${next.host}`);
      }
      if (res.statusCode === 303 && m !== 'HEAD') {
        m = 'GET';
        b = undefined;
      } else if ((res.statusCode === 301 || res.statusCode === 302) && m === 'POST') {
        m = 'GET';
        b = undefined;
      }
      cur = next;
    }
  }
}

function withoutAuthorization(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (k.toLowerCase() !== 'authorization') out[k] = v;
  return out;
}

export function basicHeader(a: AuthConfig): string | undefined {
  if (!a.username) return undefined;
  return `Basic ${Buffer.from(`${a.username}:${a.password ?? ''}`).toString('base64')}`;
}

/** Token servers say why in `details` (Docker Hub), `errors`, or OAuth2 `error_description`. */
function tokenErrorText(body: Buffer): string {
  const errors = parseErrorBody(body);
  if (errors.length > 0) return errorsString(errors);
  try {
    const doc = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    for (const k of ['details', 'error_description', 'message', 'error']) {
      const v = doc[k];
      if (typeof v === 'string' && v) return `unauthorized: ${redact(v)}`;
    }
  } catch {
    // not JSON
  }
  return 'unauthorized: authentication required';
}
