import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes, generateKeyPairSync, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { readBody, sendJson } from '../../server/index.js';
import { parseScope, type AccessPolicy } from './access.js';
import { basicCredentials } from './authorizer.js';
import type { Htpasswd } from './htpasswd.js';

export interface TokenIssuerOptions {
  issuer: string;
  service: string;
  /** PEM private key (EC P-256 or RSA); generated for this process when absent. */
  privateKeyPem?: string;
  users: Htpasswd;
  policy: AccessPolicy;
  ttlSeconds?: number;
}

/** Refresh tokens live this long (distribution's token server uses long-lived ones too). */
const REFRESH_TTL_SECONDS = 30 * 24 * 3600;

/**
 * The built-in token endpoint (Docker's token protocol): `GET /token?service=&scope=` with
 * optional Basic credentials answers a JWT whose `access` claim holds what the policy grants of
 * the scopes asked for. Wrong credentials are refused; no credentials means anonymous.
 * `POST /token` is the OAuth2 form containerd-based clients use: `grant_type=password`
 * (username, password) or `grant_type=refresh_token`, space-separated `scope`; a password grant
 * with `access_type=offline` also returns a refresh token (a JWT of ours, bound to the user).
 */
export class TokenIssuer {
  readonly publicKey: KeyObject;
  private readonly privateKey: KeyObject;
  private readonly alg: string;

  constructor(private readonly o: TokenIssuerOptions) {
    this.privateKey = o.privateKeyPem ? createPrivateKey(o.privateKeyPem) : generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    this.publicKey = createPublicKey(this.privateKey);
    this.alg = this.privateKey.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256';
  }

  handle = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<string | undefined> => {
    const creds = basicCredentials(req);
    let user: string | undefined;
    if (creds) {
      if (!(await this.o.users.verify(creds.user, creds.password))) {
        sendJson(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] }, { 'www-authenticate': 'Basic realm="lading registry token"' });
        return creds.user;
      }
      user = creds.user;
    }
    const service = url.searchParams.get('service');
    if (service && service !== this.o.service) {
      sendJson(res, 400, { errors: [{ code: 'UNSUPPORTED', message: `unknown service ${service}` }] });
      return user;
    }
    await this.issue(res, user, url.searchParams.getAll('scope').flatMap(parseScope), false);
    return user;
  };

  /** POST /token: the OAuth2 password and refresh-token grants. */
  handlePost = async (req: IncomingMessage, res: ServerResponse): Promise<string | undefined> => {
    const form = new URLSearchParams((await readBody(req, 64 * 1024)).toString('utf8'));
    const fail = (status: number, error: string, description: string): undefined => {
      sendJson(res, status, { error, error_description: description });
      return undefined;
    };
    const service = form.get('service');
    if (service && service !== this.o.service) return fail(400, 'invalid_request', `unknown service ${service}`);
    const wanted = (form.get('scope') ?? '').split(' ').filter(Boolean).flatMap(parseScope);
    const grant = form.get('grant_type');
    if (grant === 'password') {
      const user = form.get('username') ?? '';
      if (!user || !(await this.o.users.verify(user, form.get('password') ?? ''))) {
        fail(401, 'invalid_grant', 'invalid username or password');
        return user || undefined;
      }
      await this.issue(res, user, wanted, form.get('access_type') === 'offline');
      return user;
    }
    if (grant === 'refresh_token') {
      const user = await this.refreshSubject(form.get('refresh_token') ?? '');
      if (user === undefined) return fail(401, 'invalid_grant', 'invalid or expired refresh token');
      await this.issue(res, user, wanted, false);
      return user;
    }
    return fail(400, 'unsupported_grant_type', `unsupported grant_type ${JSON.stringify(grant ?? '')}`);
  };

  private async issue(res: ServerResponse, user: string | undefined, wanted: ReturnType<typeof parseScope>, withRefresh: boolean): Promise<void> {
    const access = this.o.policy.grant(user, wanted);
    const ttl = this.o.ttlSeconds ?? 300;
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: this.alg, typ: 'JWT' })
      .setIssuer(this.o.issuer)
      .setSubject(user ?? '')
      .setAudience(this.o.service)
      .setIssuedAt(now)
      .setNotBefore(now - 10)
      .setExpirationTime(now + ttl)
      .setJti(randomBytes(12).toString('hex'))
      .sign(this.privateKey);
    const scope = access.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`).join(' ');
    const doc: Record<string, unknown> = { token, access_token: token, expires_in: ttl, issued_at: new Date(now * 1000).toISOString(), scope };
    if (withRefresh && user) {
      doc.refresh_token = await new SignJWT({ refresh: true })
        .setProtectedHeader({ alg: this.alg, typ: 'JWT' })
        .setIssuer(this.o.issuer)
        .setSubject(user)
        .setAudience(`${this.o.service}#refresh`)
        .setIssuedAt(now)
        .setExpirationTime(now + REFRESH_TTL_SECONDS)
        .sign(this.privateKey);
    }
    sendJson(res, 200, doc, { 'cache-control': 'no-store' });
  }

  /** The user a refresh token of ours was issued to; undefined for anything else. */
  private async refreshSubject(token: string): Promise<string | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.publicKey, { issuer: this.o.issuer, audience: `${this.o.service}#refresh` });
      return payload.refresh === true && typeof payload.sub === 'string' && payload.sub ? payload.sub : undefined;
    } catch {
      return undefined;
    }
  }
}
