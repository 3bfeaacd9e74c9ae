import type { IncomingMessage, ServerResponse } from 'node:http';

/** What a handler gets besides the request and response. */
export interface RequestContext {
  /** Named groups of the matched pattern, URI-decoded. */
  params: Record<string, string>;
  url: URL;
  /** The route's name, for the request log (never the raw path: it may carry names and digests). */
  route: string;
  requestId: string;
  /** Aborted when the client goes away or the server shuts down hard. */
  signal: AbortSignal;
  /** Set by handlers that know who the caller is, for the request log. */
  user?: string;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => Promise<void>;

interface Route {
  method: string;
  pattern: RegExp;
  name: string;
  handler: Handler;
}

export type RouteMatch =
  | { kind: 'found'; handler: Handler; params: Record<string, string>; route: string }
  | { kind: 'method-not-allowed'; allow: string[]; route: string }
  | { kind: 'not-found' };

/**
 * Method + anchored regular expression → handler. Regular expressions rather than `:param`
 * segments because OCI repository names contain slashes (`/v2/a/b/c/manifests/x`); routes are
 * tried in the order added, so the more specific come first.
 */
export class Router {
  private readonly routes: Route[] = [];

  add(methods: string | string[], pattern: RegExp, name: string, handler: Handler): this {
    for (const method of Array.isArray(methods) ? methods : [methods]) {
      this.routes.push({ method: method.toUpperCase(), pattern, name, handler });
    }
    return this;
  }

  match(method: string, path: string): RouteMatch {
    const allow = new Set<string>();
    let route = '';
    for (const r of this.routes) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      if (r.method === method || (method === 'HEAD' && r.method === 'GET' && !this.hasExact('HEAD', r.pattern))) {
        const params: Record<string, string> = {};
        for (const [k, v] of Object.entries(m.groups ?? {})) if (v !== undefined) params[k] = safeDecode(v);
        return { kind: 'found', handler: r.handler, params, route: r.name };
      }
      allow.add(r.method);
      route ||= r.name;
    }
    return allow.size ? { kind: 'method-not-allowed', allow: [...allow], route } : { kind: 'not-found' };
  }

  private hasExact(method: string, pattern: RegExp): boolean {
    return this.routes.some((r) => r.method === method && r.pattern === pattern);
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
