import { LadingError } from '../errors/index.js';
import { inCidr, isLoopbackHost, splitHostPort } from './address.js';

/** Docker Hub's registry name and the host that actually serves its API. */
export const DOCKER_HUB = 'docker.io';
export const DOCKER_HUB_ENDPOINT = 'https://registry-1.docker.io';
/** The key Docker uses for Hub credentials in config.json and credential helpers. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

export interface HostsConfig {
  /** Registry name -> mirror base URLs, tried in order before the registry itself (pulls only). */
  mirrors?: Record<string, string[]>;
  /** Registries reached over plain HTTP: `host`, `host:port` or a CIDR range (`10.0.0.0/8`). */
  insecure?: string[];
}

/** One place a registry's API can be reached. */
export interface Endpoint {
  /** The registry name this endpoint serves (`docker.io`, `127.0.0.1:5000`). */
  registry: string;
  /** Origin plus optional path prefix, no trailing slash: `https://registry-1.docker.io`. */
  base: string;
  /** `host[:port]` of the endpoint, the key for pings, tokens and credentials. */
  host: string;
  mirror: boolean;
}

export function isDockerHub(registry: string): boolean {
  return HUB_ALIASES.has(registry.toLowerCase());
}

/** Maps registry names to endpoints: HTTPS unless loopback or configured insecure; mirrors first. */
export class RegistryHosts {
  private readonly mirrors: Map<string, string[]>;
  private readonly insecure: string[];

  constructor(config: HostsConfig = {}) {
    this.insecure = (config.insecure ?? []).map((s) => s.toLowerCase());
    this.mirrors = new Map();
    for (const [name, urls] of Object.entries(config.mirrors ?? {})) {
      const key = isDockerHub(name) ? DOCKER_HUB : name.toLowerCase();
      this.mirrors.set(key, urls.map((u) => normaliseBase(u)));
    }
  }

  /** Is `registry` (`host[:port]`) contacted over plain HTTP? */
  isInsecure(registry: string): boolean {
    const r = registry.toLowerCase();
    const { hostname } = splitHostPort(r);
    if (isLoopbackHost(hostname)) return true;
    return this.insecure.some((e) => e === r || e === hostname || (e.includes('/') && inCidr(hostname, e)));
  }

  /** The registry's own endpoint. */
  upstream(registry: string): Endpoint {
    if (isDockerHub(registry)) return { registry: DOCKER_HUB, base: DOCKER_HUB_ENDPOINT, host: 'registry-1.docker.io', mirror: false };
    const r = registry.toLowerCase();
    const base = `${this.isInsecure(r) ? 'http' : 'https'}://${r}`;
    return { registry: r, base, host: new URL(base).host, mirror: false };
  }

  /** Endpoints to try in order: mirrors (when `pull`) then the upstream. */
  endpoints(registry: string, o: { pull: boolean }): Endpoint[] {
    const up = this.upstream(registry);
    if (!o.pull) return [up];
    const mirrors = (this.mirrors.get(up.registry) ?? []).map((base) => ({ registry: up.registry, base, host: new URL(base).host, mirror: true }));
    return [...mirrors, up];
  }
}

function normaliseBase(u: string): string {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    throw new LadingError('INVALID_ARGUMENT', `invalid mirror URL ${JSON.stringify(u)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new LadingError('INVALID_ARGUMENT', `invalid mirror URL ${JSON.stringify(u)}: scheme must be http or https`);
  if (url.username || url.password || url.search || url.hash) throw new LadingError('INVALID_ARGUMENT', `invalid mirror URL ${JSON.stringify(u)}: no credentials, query or fragment allowed`);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}
