import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { LadingError, redact } from '../errors/index.js';
import { HttpError } from './http-error.js';
import type { RequestContext, Router } from './router.js';

export type ErrorMapper = (err: unknown, req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => void;

export interface HttpServerOptions {
  router: Router;
  /** Writes the response for any thrown error (one mapper per server). */
  onError: ErrorMapper;
  logger?: Logger;
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Answered before routing with 200, or 503 while shutting down. Default `/healthz`. */
  healthPath?: string;
  /** Headers on every response (API version headers). */
  headers?: Record<string, string>;
}

export interface RunningHttpServer {
  /** `http://127.0.0.1:5000` (or https) */
  url: string;
  host: string;
  port: number;
  server: Server;
  /** Requests being served right now. */
  inFlight(): number;
  /**
   * Graceful shutdown: stop accepting, let in-flight requests finish (idle keep-alive
   * connections are closed at once), then after `graceMs` cut whatever is left.
   */
  close(o?: { graceMs?: number }): Promise<void>;
}

/** `127.0.0.1:5000`, `:5000`, `[::1]:5000`, `localhost:0` → host and port. */
export function parseListenAddress(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new LadingError('INVALID_ARGUMENT', `invalid listen address ${JSON.stringify(addr)}: expected HOST:PORT`);
  }
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/**
 * A node:http(s) server around a Router: a request id, an AbortSignal that fires when the client
 * goes away, one structured log line per request, one error mapper, health endpoint, graceful
 * shutdown.
 */
export async function startHttpServer(o: HttpServerOptions, listen: { host: string; port: number }): Promise<RunningHttpServer> {
  const healthPath = o.healthPath ?? '/healthz';
  const live = new Set<AbortController>();
  let draining = false;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    const bytesReadBefore = req.socket.bytesRead;
    const requestId = randomBytes(8).toString('hex');
    const ac = new AbortController();
    live.add(ac);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const ctx: RequestContext = { params: {}, url, route: 'unmatched', requestId, signal: ac.signal };
    res.setHeader('x-request-id', requestId);
    if (o.headers) for (const [k, v] of Object.entries(o.headers)) res.setHeader(k, v);
    if (draining) res.setHeader('connection', 'close');
    res.once('close', () => {
      live.delete(ac);
      if (!res.writableFinished) ac.abort(new Error('client closed the connection'));
      if (!o.logger) return;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const len = res.getHeader('content-length');
      o.logger.info(
        {
          reqId: requestId,
          method: req.method,
          route: ctx.route,
          path: redact(url.pathname),
          status: res.statusCode,
          bytesOut: typeof len === 'number' ? len : len !== undefined ? Number(len) : undefined,
          bytesIn: req.socket.bytesRead - bytesReadBefore,
          ms: Math.round(ms * 10) / 10,
          ...(ctx.user ? { user: ctx.user } : {}),
          ...(res.writableFinished ? {} : { aborted: true }),
        },
        'request',
      );
    });
    if (url.pathname === healthPath && (req.method === 'GET' || req.method === 'HEAD')) {
      ctx.route = 'health';
      const body = JSON.stringify({ status: draining ? 'shutting down' : 'ok' });
      res.writeHead(draining ? 503 : 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    void dispatch(req, res, ctx);
  };

  const dispatch = async (req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> => {
    try {
      const m = o.router.match(req.method ?? 'GET', ctx.url.pathname);
      if (m.kind === 'not-found') throw new HttpError(404, 'not found');
      ctx.route = m.route;
      if (m.kind === 'method-not-allowed') throw new HttpError(405, 'method not allowed', { headers: { allow: m.allow.join(', ') } });
      ctx.params = m.params;
      await m.handler(req, res, ctx);
    } catch (e) {
      if (res.headersSent || res.destroyed) {
        // Mid-body failure: the only honest signal left is a broken connection.
        o.logger?.warn({ reqId: ctx.requestId, err: errText(e) }, 'failed after the response started');
        res.destroy();
        return;
      }
      try {
        o.onError(e, req, res, ctx);
      } catch (e2) {
        o.logger?.error({ reqId: ctx.requestId, err: errText(e2) }, 'error mapper failed');
        res.destroy();
      }
    }
    // Unread request bodies (an error before the body was consumed) must not stall keep-alive.
    if (!req.complete && !req.destroyed) req.resume();
  };

  const server: Server = o.tls ? createHttps({ cert: o.tls.cert, key: o.tls.key }, handle) : createHttp(handle);
  // Big blob uploads can be slow; the default 5-minute request timeout would cut them.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const hostForUrl = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address === '0.0.0.0' ? '127.0.0.1' : addr.address;
  let closing: Promise<void> | undefined;
  return {
    url: `${o.tls ? 'https' : 'http'}://${hostForUrl}:${addr.port}`,
    host: `${hostForUrl}:${addr.port}`,
    port: addr.port,
    server,
    inFlight: () => live.size,
    close: (co = {}) => {
      closing ??= (async () => {
        draining = true;
        const closed = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        // Connections that finish a request go idle; close them as they do.
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        const timer = setTimeout(() => {
          for (const ac of live) ac.abort(new Error('server shutting down'));
          server.closeAllConnections();
        }, co.graceMs ?? 10_000);
        try {
          await closed;
        } finally {
          clearInterval(sweep);
          clearTimeout(timer);
        }
      })();
      return closing;
    },
  };
}

function errText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
