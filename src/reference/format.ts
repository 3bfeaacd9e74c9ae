import { DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX } from './grammar.js';
import type { Reference } from './parse.js';

/** Full repository name: `docker.io/library/busybox`, or just the path for a domain-less quirk. */
export function repositoryName(r: Reference): string {
  return r.domain === '' ? r.path : `${r.domain}/${r.path}`;
}

/** `repositoryName[:tag][@digest]`, e.g. `docker.io/library/busybox:latest`. */
export function fullString(r: Reference): string {
  return repositoryName(r) + suffix(r);
}

/**
 * What users see: drop `docker.io/`, then `library/` when nothing else nests under it. Other
 * domains are kept verbatim, case included (`Docker.io/foo` is not the Hub).
 */
export function familiarName(r: Reference): string {
  if (r.domain !== DEFAULT_DOMAIN) return repositoryName(r);
  if (r.path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = r.path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes('/')) return rest;
  }
  return r.path;
}

/** `familiarName[:tag][@digest]`, e.g. `busybox:1.36`, `127.0.0.1:5001/bb@sha256:...`. */
export function familiarString(r: Reference): string {
  return familiarName(r) + suffix(r);
}

/**
 * Host to contact for this repository: the domain (`docker.io` for the Hub, which callers map to
 * its API endpoint). `''` for the domain-less quirk, which names no registry.
 */
export function registryHost(r: Reference): string {
  return r.domain;
}

function suffix(r: Reference): string {
  return (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}
