import { execFile } from 'node:child_process';
import { createPrivateKey, createSign, randomBytes, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireTool } from './require-tool.js';

const run = promisify(execFile);

export interface TokenServer {
  /** `http://127.0.0.1:PORT/token`, the realm to configure in the registry. */
  realm: string;
  service: string;
  issuer: string;
  /** PEM certificate the registry trusts (`rootcertbundle`). */
  rootCertBundle: string;
  /** Token requests seen, for assertions on scopes and credentials. */
  requests: Array<{ scope: string | null; service: string | null; user: string | undefined }>;
  close(): Promise<void>;
}

export interface TokenPolicy {
  /** username -> password */
  users: Record<string, string>;
  /** Repositories anonymous users may pull (prefix match). */
  publicPrefix: string;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/**
 * A Docker-style token server for the CNCF registry's `auth.token` mode: Basic credentials in,
 * RS256 JWT out, with the granted actions in the `access` claim and the certificate in `x5c`
 * (distribution verifies the chain against its rootcertbundle).
 */
export async function startTokenServer(dir: string, policy: TokenPolicy): Promise<TokenServer> {
  const openssl = await requireTool('openssl', 'apt-get install -y openssl');
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  await run(openssl, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=lading-test-token']);
  const key: KeyObject = createPrivateKey(await readFile(keyPath));
  const certPem = await readFile(certPath, 'utf8');
  const der = Buffer.from(certPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  await writeFile(join(dir, 'bundle.pem'), certPem);
  const service = 'lading-test-registry';
  const issuer = 'lading-test-issuer';
  const requests: TokenServer['requests'] = [];

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let user: string | undefined;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const [u, ...p] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      if (policy.users[u!] !== p.join(':')) {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ details: 'incorrect username or password' }));
        return;
      }
      user = u;
    }
    const scopes = url.searchParams.getAll('scope');
    requests.push({ scope: scopes.join(' ') || null, service: url.searchParams.get('service'), user });
    const access = scopes.flatMap((s) => {
      const [type, name, actions] = s.split(':') as [string, string, string];
      if (type !== 'repository' || !name) return [];
      const wanted = (actions ?? '').split(',');
      const granted = user ? wanted : name.startsWith(policy.publicPrefix) ? wanted.filter((a) => a === 'pull') : [];
      return granted.length ? [{ type, name, actions: granted }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [der.toString('base64')] };
    const claims = { iss: issuer, sub: user ?? '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(signingInput).sign(key);
    const token = `${signingInput}.${b64url(sig)}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    rootCertBundle: join(dir, 'bundle.pem'),
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
