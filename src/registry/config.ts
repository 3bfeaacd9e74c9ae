import { readFileSync } from 'node:fs';
import { LadingError } from '../errors/index.js';
import type { AccessRule } from './auth/index.js';

/**
 * `lading registry serve` settings, as a JSON config file and flags give them (flags win).
 * Durations are milliseconds or strings such as "90s", "30m", "1h", "7d".
 */
export interface RegistryConfig {
  /** HOST:PORT to listen on (default 127.0.0.1:5000). */
  addr: string;
  /** Storage root directory. */
  root: string;
  readOnly: boolean;
  tls?: { cert: string; key: string };
  auth: {
    /** htpasswd file (bcrypt): Basic auth, or the users of the built-in token endpoint. */
    htpasswd?: string;
    anonymousRead: boolean;
    admins: string[];
    /** Access rules; absent means every signed-in user may pull, push and delete. */
    access?: AccessRule[];
    token?: {
      /** Where clients get tokens; default: this server's /token (built-in issuer). */
      realm?: string;
      service: string;
      issuer: string;
      /** External issuer: PEM public key or certificate its tokens are verified with. */
      publicKey?: string;
      /** Built-in issuer: PEM private key to sign with (default: generated at start). */
      signingKey?: string;
      ttlSeconds: number;
    };
  };
  gc: {
    /** Run the collector every interval while serving (0: only on demand). */
    intervalMs: number;
    gracePeriodMs: number;
    uploadTtlMs: number;
  };
  limits: { manifestBytes: number; blobBytes: number };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
}

export type RegistryConfigInput = {
  addr?: string;
  root?: string;
  readOnly?: boolean;
  tls?: { cert?: string; key?: string };
  auth?: Partial<Omit<RegistryConfig['auth'], 'token'>> & { token?: Partial<NonNullable<RegistryConfig['auth']['token']>> | boolean };
  gc?: { interval?: number | string; gracePeriod?: number | string; uploadTtl?: number | string };
  limits?: { manifestBytes?: number; blobBytes?: number };
  log?: { level?: string };
};

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };

export function parseDuration(v: number | string | undefined, what: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v.trim()) : null;
  if (!m) throw new LadingError('INVALID_ARGUMENT', `invalid ${what}: ${JSON.stringify(v)} (use e.g. 30s, 10m, 1h, 7d)`);
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 'ms']!);
}

export function readRegistryConfigFile(path: string): RegistryConfigInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new LadingError('INVALID_ARGUMENT', `unable to read config file ${path}: ${(e as Error).message}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as RegistryConfigInput;
  } catch (e) {
    throw new LadingError('INVALID_ARGUMENT', `invalid config file ${path}: ${(e as Error).message}`);
  }
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** defaults ← file ← flags, validated once. */
export function resolveRegistryConfig(o: { file?: RegistryConfigInput; flags?: RegistryConfigInput; defaultRoot: string }): RegistryConfig {
  const f = o.file ?? {};
  const g = o.flags ?? {};
  const auth = { ...(f.auth ?? {}), ...(g.auth ?? {}) };
  const tokenIn = auth.token === true ? {} : auth.token === false ? undefined : auth.token;
  const tls = { ...(f.tls ?? {}), ...(g.tls ?? {}) };
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw new LadingError('INVALID_ARGUMENT', 'TLS needs both a certificate and a key');
  const level = g.log?.level ?? f.log?.level ?? 'info';
  if (!LEVELS.includes(level)) throw new LadingError('INVALID_ARGUMENT', `invalid log level ${JSON.stringify(level)}`);
  const gc = { ...(f.gc ?? {}), ...(g.gc ?? {}) };
  const limits = { ...(f.limits ?? {}), ...(g.limits ?? {}) };
  const positive = (v: number | undefined, what: string, dflt: number) => {
    if (v === undefined) return dflt;
    if (!Number.isSafeInteger(v) || v <= 0) throw new LadingError('INVALID_ARGUMENT', `invalid ${what}: ${String(v)}`);
    return v;
  };
  if (tokenIn?.publicKey && tokenIn.signingKey) throw new LadingError('INVALID_ARGUMENT', 'token auth: give publicKey (external issuer) or signingKey (built-in issuer), not both');
  if (tokenIn?.publicKey && !tokenIn.realm) throw new LadingError('INVALID_ARGUMENT', 'token auth with an external issuer needs its realm (the token endpoint URL)');
  const cfg: RegistryConfig = {
    addr: g.addr ?? f.addr ?? '127.0.0.1:5000',
    root: g.root ?? f.root ?? o.defaultRoot,
    readOnly: g.readOnly ?? f.readOnly ?? false,
    auth: {
      ...(auth.htpasswd ? { htpasswd: auth.htpasswd } : {}),
      anonymousRead: auth.anonymousRead ?? false,
      admins: auth.admins ?? [],
      ...(auth.access ? { access: auth.access } : {}),
      ...(tokenIn
        ? {
            token: {
              ...(tokenIn.realm ? { realm: tokenIn.realm } : {}),
              service: tokenIn.service ?? 'lading-registry',
              issuer: tokenIn.issuer ?? 'lading-registry',
              ...(tokenIn.publicKey ? { publicKey: tokenIn.publicKey } : {}),
              ...(tokenIn.signingKey ? { signingKey: tokenIn.signingKey } : {}),
              ttlSeconds: positive(tokenIn.ttlSeconds, 'token ttlSeconds', 300),
            },
          }
        : {}),
    },
    gc: {
      intervalMs: parseDuration(gc.interval, 'gc interval', 0),
      gracePeriodMs: parseDuration(gc.gracePeriod, 'gc grace period', 3600_000),
      uploadTtlMs: parseDuration(gc.uploadTtl, 'upload TTL', 7 * 86_400_000),
    },
    limits: {
      manifestBytes: positive(limits.manifestBytes, 'manifest size limit', 4 << 20),
      blobBytes: positive(limits.blobBytes, 'blob size limit', 64 * 1024 ** 3),
    },
    log: { level: level as RegistryConfig['log']['level'] },
  };
  if (tls.cert && tls.key) cfg.tls = { cert: tls.cert, key: tls.key };
  if (cfg.auth.token && !cfg.auth.token.publicKey && !cfg.auth.htpasswd && !cfg.auth.anonymousRead) {
    throw new LadingError('INVALID_ARGUMENT', 'the built-in token issuer needs an htpasswd file (users) or anonymous read');
  }
  return Object.freeze(cfg);
}
