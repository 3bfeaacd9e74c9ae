import type { IncomingMessage } from 'node:http';
import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { jwtVerify, errors as joseErrors } from 'jose';
import { ociError } from '../errors.js';
import { accessCovers, formatScope, type Access, type AccessPolicy } from './access.js';
import type { Htpasswd } from './htpasswd.js';

/** Who made a request, once `authorize` let it through. */
export interface Caller {
  user?: string;
}

/**
 * Decides whether a request may do what it needs. Refusals are RegistryHttpErrors: 401
 * UNAUTHORIZED with a WWW-Authenticate challenge when credentials are missing, wrong or (for
 * tokens) too narrow, 403 DENIED when a known user lacks the right.
 */
export interface Authorizer {
  readonly mode: 'none' | 'htpasswd' | 'token';
  /**
   * `credentials`: refuse a request without credentials even when the policy would let an
   * anonymous caller through (the `/v2/` check, which `docker login` relies on).
   */
  authorize(req: IncomingMessage, needed: Access[], o?: { credentials?: boolean }): Promise<Caller>;
}

export class OpenAuthorizer implements Authorizer {
  readonly mode = 'none';
  async authorize(): Promise<Caller> {
    return {};
  }
}

function basicCredentials(req: IncomingMessage): { user: string; password: string } | undefined {
  const h = req.headers.authorization;
  if (!h || !/^basic /i.test(h)) return undefined;
  const text = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i < 0) return undefined;
  return { user: text.slice(0, i), password: text.slice(i + 1) };
}

/** Basic auth against an htpasswd file, rights from the access policy. */
export class HtpasswdAuthorizer implements Authorizer {
  readonly mode = 'htpasswd';
  constructor(
    private readonly users: Htpasswd,
    private readonly policy: AccessPolicy,
    private readonly realm = 'lading registry',
  ) {}

  async authorize(req: IncomingMessage, needed: Access[], o: { credentials?: boolean } = {}): Promise<Caller> {
    const challenge = { 'www-authenticate': `Basic realm="${this.realm}"` };
    const creds = basicCredentials(req);
    if (!creds) {
      if (!o.credentials && this.policy.allows(undefined, needed)) return {};
      throw ociError('UNAUTHORIZED', 'authentication required', { headers: challenge, detail: needed });
    }
    if (!(await this.users.verify(creds.user, creds.password))) {
      throw ociError('UNAUTHORIZED', 'invalid username or password', { headers: challenge });
    }
    if (!this.policy.allows(creds.user, needed)) throw ociError('DENIED', 'requested access to the resource is denied', { detail: needed });
    return { user: creds.user };
  }
}

export interface TokenVerifyOptions {
  /** Where clients get tokens (the challenge's realm): the built-in `/token` or an external issuer. */
  realm: string | ((req: IncomingMessage) => string);
  service: string;
  issuer: string;
  /** Public keys (or certificates) whose signatures are trusted. */
  keys: KeyObject[];
  policy: AccessPolicy;
}

/** Read a PEM public key or certificate (an external issuer's), or derive it from a private key. */
export function publicKeyFromPem(pem: string): KeyObject {
  if (pem.includes('BEGIN CERTIFICATE')) return new X509Certificate(pem).publicKey;
  return createPublicKey(pem);
}

/**
 * Bearer tokens (Docker's token auth): JWTs signed by a trusted key, scoped by their `access`
 * claim. Requests without a token get the challenge naming the scope they need, unless the
 * policy lets anonymous users through (anonymous read).
 */
export class TokenAuthorizer implements Authorizer {
  readonly mode = 'token';
  constructor(private readonly o: TokenVerifyOptions) {}

  async authorize(req: IncomingMessage, needed: Access[], o: { credentials?: boolean } = {}): Promise<Caller> {
    const realm = typeof this.o.realm === 'function' ? this.o.realm(req) : this.o.realm;
    const challenge = (error?: string) => {
      let v = `Bearer realm="${realm}",service="${this.o.service}"`;
      if (needed.length) v += `,scope="${formatScope(needed)}"`;
      if (error) v += `,error="${error}"`;
      return { 'www-authenticate': v };
    };
    const h = req.headers.authorization;
    if (!h || !/^bearer /i.test(h)) {
      if (!o.credentials && this.o.policy.allows(undefined, needed)) return {};
      throw ociError('UNAUTHORIZED', 'authentication required', { headers: challenge(), detail: needed });
    }
    const token = h.slice(7).trim();
    let claims: { sub?: unknown; access?: unknown };
    try {
      claims = await this.verify(token);
    } catch {
      throw ociError('UNAUTHORIZED', 'invalid token', { headers: challenge('invalid_token') });
    }
    const granted = Array.isArray(claims.access) ? (claims.access as unknown[]).filter(isAccess) : [];
    const user = typeof claims.sub === 'string' && claims.sub ? claims.sub : undefined;
    if (!accessCovers(granted, needed)) {
      // Docker's registry answers 401 insufficient_scope so the client fetches a wider token.
      throw ociError('DENIED', 'requested access to the resource is denied', { status: 401, headers: challenge('insufficient_scope'), detail: needed });
    }
    return user ? { user } : {};
  }

  private async verify(token: string): Promise<{ sub?: unknown; access?: unknown }> {
    let last: unknown;
    for (const key of this.o.keys) {
      try {
        const { payload } = await jwtVerify(token, key, { issuer: this.o.issuer, audience: this.o.service, clockTolerance: 60 });
        return payload;
      } catch (e) {
        last = e;
        if (!(e instanceof joseErrors.JWSSignatureVerificationFailed) && !(e instanceof joseErrors.JOSEAlgNotAllowed)) throw e;
      }
    }
    throw last ?? new Error('no key');
  }
}

function isAccess(v: unknown): v is Access {
  const a = v as Access;
  return typeof a === 'object' && a !== null && typeof a.type === 'string' && typeof a.name === 'string' && Array.isArray(a.actions) && a.actions.every((x) => typeof x === 'string');
}

export { basicCredentials };
