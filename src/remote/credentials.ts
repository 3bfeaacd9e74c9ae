import type * as ChildProcess from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { LadingError, throwIfAborted } from '../errors/index.js';
import { atomicWrite, lazyRequire } from '../util/index.js';
import { DOCKER_HUB_AUTH_KEY, isDockerHub } from './hosts.js';
import type { Logger } from './logger.js';

// Loaded on first use: only credential helpers need it.
const childProcess = lazyRequire<typeof ChildProcess>('node:child_process');

/** Credentials for one registry, with Docker's config.json field names. */
export interface AuthConfig {
  username?: string;
  password?: string;
  /** OAuth2 refresh token (Docker Hub logins, `<token>` from credential helpers). */
  identitytoken?: string;
  /** A bearer token to send as is. */
  registrytoken?: string;
  serveraddress?: string;
}

/** Where the transport gets credentials for a registry host (`docker.io`, `127.0.0.1:5000`). */
export interface Credentials {
  lookup(registry: string, o?: { signal?: AbortSignal }): Promise<AuthConfig | undefined>;
}

/** Fixed credentials per registry: for tests, `--username/--password` and callers with their own store. */
export class StaticCredentials implements Credentials {
  private readonly map: Map<string, AuthConfig>;
  constructor(entries: Record<string, AuthConfig> = {}) {
    this.map = new Map(Object.entries(entries).map(([k, v]) => [hostKey(k), v]));
  }
  async lookup(registry: string): Promise<AuthConfig | undefined> {
    return this.map.get(hostKey(registry));
  }
}

/** The key Docker files credentials under: Hub's legacy index URL, else `host[:port]`. */
export function credentialsKey(registry: string): string {
  return isDockerHub(hostKey(registry)) ? DOCKER_HUB_AUTH_KEY : hostKey(registry);
}

/** Docker's ConvertToHostname: drop the scheme and any path. */
function hostKey(s: string): string {
  let h = s.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = h.indexOf('/');
  if (slash >= 0) h = h.slice(0, slash);
  return h.toLowerCase();
}

interface ConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string; registrytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [k: string]: unknown;
}

interface HelperResult {
  ok: boolean;
  stdout: string;
  exitCode: number | null;
  spawnError?: NodeJS.ErrnoException;
}

const HELPER_NOT_FOUND = 'credentials not found in native keychain';

/**
 * Docker's credential configuration: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
 * Lookup order is the docker CLI's: `credHelpers[key]`, then `credsStore`, then `auths`. The file is
 * re-read on every call because `login` in another process may have changed it.
 */
export class DockerConfigCredentials implements Credentials {
  readonly path: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly helperTimeoutMs: number;
  private readonly logger: Logger | undefined;

  constructor(o: { configDir?: string; env?: NodeJS.ProcessEnv; helperTimeoutMs?: number; logger?: Logger } = {}) {
    this.env = o.env ?? process.env;
    const dir = o.configDir ?? this.env.DOCKER_CONFIG ?? join(this.env.HOME ?? homedir(), '.docker');
    this.path = join(dir, 'config.json');
    this.helperTimeoutMs = o.helperTimeoutMs ?? 30_000;
    this.logger = o.logger;
  }

  async lookup(registry: string, o: { signal?: AbortSignal } = {}): Promise<AuthConfig | undefined> {
    let cfg: ConfigFile;
    try {
      cfg = await this.load();
    } catch (e) {
      // The docker CLI warns and carries on without credentials; so do we.
      this.logger?.log('warn', `error loading config file ${this.path}: ${(e as Error).message}`);
      return undefined;
    }
    const key = credentialsKey(registry);
    const helper = this.helperFor(cfg, key);
    if (helper) return this.helperGet(helper, key, o.signal);
    return fromAuths(cfg, key);
  }

  /** Save credentials (login): through the configured helper, else base64 `auth` in config.json. */
  async storeCredentials(registry: string, auth: { username: string; password: string }, o: { signal?: AbortSignal } = {}): Promise<void> {
    const cfg = await this.load();
    const key = credentialsKey(registry);
    const helper = this.helperFor(cfg, key);
    cfg.auths ??= {};
    if (helper) {
      const isToken = auth.username === '<token>';
      const input = JSON.stringify({ ServerURL: key, Username: isToken ? '<token>' : auth.username, Secret: auth.password });
      const r = await this.runHelper(helper, 'store', input, o.signal);
      if (!r.ok) throw helperError('storing', helper, r);
      // Docker leaves an empty entry so `docker logout` and tools can list logged-in registries.
      cfg.auths[key] = {};
    } else {
      cfg.auths[key] = { auth: Buffer.from(`${auth.username}:${auth.password}`).toString('base64') };
    }
    await this.save(cfg);
  }

  /** Remove credentials (logout). Returns false when there were none. */
  async eraseCredentials(registry: string, o: { signal?: AbortSignal } = {}): Promise<boolean> {
    const cfg = await this.load();
    const key = credentialsKey(registry);
    const helper = this.helperFor(cfg, key);
    let had = false;
    if (helper) {
      const r = await this.runHelper(helper, 'erase', key, o.signal);
      if (r.ok) had = true;
      else if (!r.stdout.includes(HELPER_NOT_FOUND)) throw helperError('erasing', helper, r);
    }
    for (const k of Object.keys(cfg.auths ?? {})) {
      if (k === key || hostKey(k) === hostKey(key)) {
        delete cfg.auths![k];
        had = true;
      }
    }
    await this.save(cfg);
    return had;
  }

  private helperFor(cfg: ConfigFile, key: string): string | undefined {
    return cfg.credHelpers?.[key] ?? cfg.credHelpers?.[hostKey(key)] ?? (cfg.credsStore || undefined);
  }

  private async helperGet(helper: string, key: string, signal: AbortSignal | undefined): Promise<AuthConfig | undefined> {
    const r = await this.runHelper(helper, 'get', key, signal);
    if (!r.ok) {
      if (r.stdout.includes(HELPER_NOT_FOUND)) return undefined;
      throw helperError('getting', helper, r);
    }
    let doc: { Username?: unknown; Secret?: unknown; ServerURL?: unknown };
    try {
      doc = JSON.parse(r.stdout) as typeof doc;
    } catch {
      throw new LadingError('UNAVAILABLE', `error getting credentials - err: invalid output from docker-credential-${helper}`);
    }
    const username = typeof doc.Username === 'string' ? doc.Username : '';
    const secret = typeof doc.Secret === 'string' ? doc.Secret : '';
    if (!username && !secret) return undefined;
    const out: AuthConfig = { serveraddress: key };
    if (username === '<token>') out.identitytoken = secret;
    else {
      out.username = username;
      out.password = secret;
    }
    return out;
  }

  private runHelper(helper: string, action: 'get' | 'store' | 'erase', input: string, signal: AbortSignal | undefined): Promise<HelperResult> {
    throwIfAborted(signal);
    return new Promise((resolve, reject) => {
      const child = childProcess().spawn(`docker-credential-${helper}`, [action], {
        env: this.env,
        stdio: ['pipe', 'pipe', 'pipe'],
        ...(signal ? { signal } : {}),
      });
      // Our own timer: spawn's `timeout` is not cleared when the executable is missing.
      const timer = setTimeout(() => child.kill('SIGKILL'), this.helperTimeoutMs);
      timer.unref();
      child.once('close', () => clearTimeout(timer));
      child.once('error', () => clearTimeout(timer));
      const out: Buffer[] = [];
      let size = 0;
      child.stdout.on('data', (b: Buffer) => {
        size += b.length;
        if (size <= 1024 * 1024) out.push(b);
      });
      child.stderr.resume();
      child.stdin.on('error', () => {}); // the helper may exit before reading stdin
      child.on('error', (e: NodeJS.ErrnoException) => {
        if (signal?.aborted) reject(new LadingError('CANCELED', 'operation canceled', { cause: signal.reason }));
        else resolve({ ok: false, stdout: '', exitCode: null, spawnError: e });
      });
      child.on('close', (code) => {
        if (signal?.aborted) return;
        resolve({ ok: code === 0, stdout: Buffer.concat(out).toString('utf8').trim(), exitCode: code });
      });
      child.stdin.end(input);
    });
  }

  private async load(): Promise<ConfigFile> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw e;
    }
    if (text.trim() === '') return {};
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new LadingError('INVALID_ARGUMENT', `error loading config file ${this.path}: ${(e as Error).message}`);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new LadingError('INVALID_ARGUMENT', `error loading config file ${this.path}: not a JSON object`);
    return doc as ConfigFile;
  }

  private async save(cfg: ConfigFile): Promise<void> {
    const dir = join(this.path, '..');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // The file holds secrets: 0600, replaced atomically.
    await atomicWrite(this.path, `${JSON.stringify(cfg, null, '\t')}\n`, 0o600);
  }
}

function fromAuths(cfg: ConfigFile, key: string): AuthConfig | undefined {
  const auths = cfg.auths ?? {};
  let entry = auths[key];
  if (!entry) {
    const want = hostKey(key);
    const hub = isDockerHub(want);
    for (const [k, v] of Object.entries(auths)) {
      const h = hostKey(k);
      if (h === want || (hub && isDockerHub(h))) {
        entry = v;
        break;
      }
    }
  }
  if (!entry) return undefined;
  const out: AuthConfig = { serveraddress: key };
  if (typeof entry.auth === 'string' && entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i > 0) {
      out.username = decoded.slice(0, i);
      out.password = decoded.slice(i + 1);
    }
  }
  if (typeof entry.username === 'string' && entry.username) out.username = entry.username;
  if (typeof entry.password === 'string' && entry.password) out.password = entry.password;
  if (typeof entry.identitytoken === 'string' && entry.identitytoken) out.identitytoken = entry.identitytoken;
  if (typeof entry.registrytoken === 'string' && entry.registrytoken) out.registrytoken = entry.registrytoken;
  return out.username || out.identitytoken || out.registrytoken ? out : undefined;
}

function helperError(verb: string, helper: string, r: HelperResult): LadingError {
  // Docker's wording: "error getting credentials - err: exit status 1, out: `...`".
  const err = r.spawnError
    ? r.spawnError.code === 'ENOENT'
      ? `exec: "docker-credential-${helper}": executable file not found in $PATH`
      : r.spawnError.message
    : `exit status ${r.exitCode ?? 'signal'}`;
  return new LadingError('UNAVAILABLE', `error ${verb} credentials - err: ${err}, out: \`${r.stdout}\``);
}
