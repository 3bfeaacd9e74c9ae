import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes, generateKeyPairSync, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { sendJson } from '../../server/index.js';
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

/**
 * The built-in token endpoint (Docker's token protocol): `GET /token?service=&scope=` with
 * optional Basic credentials answers a JWT whose `access` claim holds what the policy grants of
 * the scopes asked for. Wrong credentials are refused; no credentials means anonymous.
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
    const wanted = url.searchParams.getAll('scope').flatMap(parseScope);
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
    sendJson(res, 200, { token, access_token: token, expires_in: ttl, issued_at: new Date(now * 1000).toISOString() }, { 'cache-control': 'no-store' });
    return user;
  };
}
