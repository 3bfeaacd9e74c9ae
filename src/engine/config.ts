import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { LadingError } from '../errors/index.js';

/** One immutable configuration, validated once and passed down (architecture guide §4.10). */
export interface Config {
  readonly root: string;
  readonly insecureRegistries: readonly string[];
  readonly registryMirrors: Readonly<Record<string, readonly string[]>>;
  readonly maxConcurrentDownloads: number;
  readonly maxConcurrentUploads: number;
  readonly snapshotter: 'overlay' | 'native';
  /** Directory holding Docker's config.json (credentials). */
  readonly dockerConfigDir: string;
  /** Partial downloads older than this are removed at start-up. */
  readonly ingestResumeWindowMs: number;
  /** Fetch blobs but do not unpack layers (LADING_PULL_NO_UNPACK=1; measuring transfer alone). */
  readonly pullWithoutUnpack: boolean;
  /** Blobs larger than this are pushed in PATCH chunks of this size, each a resume point. */
  readonly pushChunkSize: number;
}

/** Settings as a config file (daemon.json-style keys) or flags give them; all optional. */
export interface ConfigInput {
  root?: string;
  'data-root'?: string;
  'insecure-registries'?: string[];
  'registry-mirrors'?: string[] | Record<string, string[]>;
  'max-concurrent-downloads'?: number;
  'max-concurrent-uploads'?: number;
  snapshotter?: 'overlay' | 'native';
  'push-chunk-size'?: number;
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

export function defaultRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (isRoot()) return '/var/lib/lading';
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'lading');
}

export function defaultConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  if (isRoot()) return '/etc/lading/config.json';
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'lading', 'config.json');
}

/** Read a config file; a missing default file is fine, a missing named file is an error. */
export function readConfigFile(path: string, required: boolean): ConfigInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (!required && (e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new LadingError('INVALID_ARGUMENT', `unable to read config file ${path}: ${(e as Error).message}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as ConfigInput;
  } catch (e) {
    throw new LadingError('INVALID_ARGUMENT', `invalid config file ${path}: ${(e as Error).message}`);
  }
}

function positiveInt(v: unknown, what: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new LadingError('INVALID_ARGUMENT', `invalid ${what}: ${String(v)}`);
  return n;
}

/** Mirrors given as a list apply to Docker Hub, as dockerd's `registry-mirrors` do. */
function mirrors(v: ConfigInput['registry-mirrors']): Record<string, string[]> {
  if (!v) return {};
  const m = Array.isArray(v) ? { 'docker.io': v } : v;
  const out: Record<string, string[]> = {};
  for (const [k, list] of Object.entries(m)) {
    out[k] = list.map((u) => {
      try {
        const url = new URL(u);
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
        return url.toString().replace(/\/$/, '');
      } catch {
        throw new LadingError('INVALID_ARGUMENT', `invalid mirror: ${u}: must be an http or https URL`);
      }
    });
  }
  return out;
}

/** defaults <- config file <- LADING_* environment <- flags. */
export function resolveConfig(o: { flags?: ConfigInput; configFile?: string; env?: NodeJS.ProcessEnv } = {}): Config {
  const env = o.env ?? process.env;
  const file = o.configFile ? readConfigFile(o.configFile, true) : readConfigFile(env.LADING_CONFIG || defaultConfigFile(env), !!env.LADING_CONFIG);
  const flags = o.flags ?? {};
  const envInput: ConfigInput = {};
  if (env.LADING_ROOT) envInput.root = env.LADING_ROOT;
  if (env.LADING_INSECURE_REGISTRIES) envInput['insecure-registries'] = env.LADING_INSECURE_REGISTRIES.split(',').filter(Boolean);
  if (env.LADING_REGISTRY_MIRRORS) envInput['registry-mirrors'] = env.LADING_REGISTRY_MIRRORS.split(',').filter(Boolean);
  if (env.LADING_PUSH_CHUNK_SIZE) envInput['push-chunk-size'] = Number(env.LADING_PUSH_CHUNK_SIZE);
  if (env.LADING_SNAPSHOTTER) envInput.snapshotter = env.LADING_SNAPSHOTTER as ConfigInput['snapshotter'];
  const merged: ConfigInput = { ...file, ...envInput, ...Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)) };
  const root = merged.root ?? merged['data-root'] ?? defaultRoot(env);
  const snapshotter = merged.snapshotter ?? (isRoot() ? 'overlay' : 'native');
  if (snapshotter !== 'overlay' && snapshotter !== 'native') throw new LadingError('INVALID_ARGUMENT', `unknown snapshotter ${String(snapshotter)}`);
  const insecure = [...(file['insecure-registries'] ?? []), ...(envInput['insecure-registries'] ?? []), ...(flags['insecure-registries'] ?? [])];
  return Object.freeze({
    root,
    insecureRegistries: Object.freeze([...new Set(insecure)]),
    registryMirrors: Object.freeze(mirrors(merged['registry-mirrors'])),
    maxConcurrentDownloads: positiveInt(merged['max-concurrent-downloads'], 'max-concurrent-downloads', 3),
    maxConcurrentUploads: positiveInt(merged['max-concurrent-uploads'], 'max-concurrent-uploads', 5),
    snapshotter,
    dockerConfigDir: env.DOCKER_CONFIG || join(homedir(), '.docker'),
    ingestResumeWindowMs: 24 * 3600 * 1000,
    pullWithoutUnpack: env.LADING_PULL_NO_UNPACK === '1',
    pushChunkSize: positiveInt(merged['push-chunk-size'], 'push-chunk-size', 64 * 1024 * 1024),
  });
}
