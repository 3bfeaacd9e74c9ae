import { LadingError } from '../errors/index.js';
import { validateReferenceDigest } from './digest.js';
import {
  ANCHORED_NAME_RE,
  ANCHORED_TAG_RE,
  DEFAULT_DOMAIN,
  IDENTIFIER_RE,
  LEGACY_DEFAULT_DOMAIN,
  NAME_TOTAL_LENGTH_MAX,
  OFFICIAL_REPO_PREFIX,
  REFERENCE_RE,
} from './grammar.js';

/**
 * A normalised image reference (`domain/path[:tag][@digest]`). Both tag and digest may be present;
 * callers decide which wins (Docker pulls and looks up by the digest).
 */
export interface Reference {
  /** `docker.io` for Docker Hub; `''` only for the `host_name.io/foo` quirk (no valid domain). */
  readonly domain: string;
  /** Repository path, lower case, e.g. `library/busybox`. */
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
}

export const DEFAULT_TAG = 'latest';

/**
 * Docker's ParseNormalizedNamed: familiar string -> full reference, no default tag. Throws
 * LadingError('INVALID_ARGUMENT') with the Docker CLI's message.
 */
export function parseReference(s: string): Reference {
  if (IDENTIFIER_RE.test(s)) {
    throw invalid(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const [domain, remainder] = splitDockerDomain(s);
  const colon = remainder.indexOf(':');
  const remote = colon >= 0 ? remainder.slice(0, colon) : remainder;
  if (remote.toLowerCase() !== remote) {
    throw invalid(`invalid reference format: repository name (${remote}) must be lowercase`);
  }
  return parseStrict(`${domain}/${remainder}`);
}

/** Docker's TagNameOnly: `latest` when the reference has neither tag nor digest. */
export function withDefaultTag(r: Reference): Reference {
  if (r.tag !== undefined || r.digest !== undefined) return r;
  return { domain: r.domain, path: r.path, tag: DEFAULT_TAG };
}

/** The name with another tag (and no digest). The tag must be valid. */
export function withTag(r: Reference, tag: string): Reference {
  if (!isValidTag(tag)) throw invalid('invalid tag format');
  return { domain: r.domain, path: r.path, tag };
}

/** The bare repository (Docker's TrimNamed). */
export function nameOnly(r: Reference): Reference {
  return { domain: r.domain, path: r.path };
}

/**
 * TARGET of `docker tag`: the CLI's parse and digest refusal, then the daemon's refusal of a
 * repository named like the digest algorithm (`sha256:<hex>` would read as an ID), then `latest`.
 * Messages are bare; the CLI wraps parse errors as `Error parsing reference: ...`.
 */
export function parseTagTarget(s: string): Reference {
  const r = parseReference(s);
  if (r.digest !== undefined) throw invalid('refusing to create a tag with a digest reference');
  if (r.domain === DEFAULT_DOMAIN && r.path === `${OFFICIAL_REPO_PREFIX}sha256`) {
    throw invalid('refusing to create an ambiguous tag using digest algorithm as name');
  }
  return withDefaultTag(r);
}

/** 64 lower-case hex, or `sha256:` + 64 lower-case hex: an image ID, never a name in lookups. */
export function isFullHexId(s: string): boolean {
  return IDENTIFIER_RE.test(s.startsWith('sha256:') ? s.slice(7) : s);
}

/** 1..128 of `[A-Za-z0-9_.-]`, not starting with `.` or `-`. */
export function isValidTag(s: string): boolean {
  return ANCHORED_TAG_RE.test(s);
}

/** Docker's splitDockerDomain (distribution/reference v0.6, what CLI 28 uses). */
function splitDockerDomain(s: string): [domain: string, remainder: string] {
  const slash = s.indexOf('/');
  // No slash: a familiar Hub name; `localhost:5000` is repo `localhost`, tag `5000`.
  if (slash < 0) return [DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + s];
  const first = s.slice(0, slash);
  let domain: string;
  let remainder: string;
  if (first === LEGACY_DEFAULT_DOMAIN) {
    [domain, remainder] = [DEFAULT_DOMAIN, s.slice(slash + 1)];
  } else if (first === 'localhost' || first.includes('.') || first.includes(':') || first.toLowerCase() !== first) {
    // Upper case is never valid in a path, so an upper-case first element must be a host.
    [domain, remainder] = [first, s.slice(slash + 1)];
  } else {
    [domain, remainder] = [DEFAULT_DOMAIN, s];
  }
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return [domain, remainder];
}

/** Docker's reference.Parse on the composed `domain/remainder`. */
function parseStrict(s: string): Reference {
  const m = REFERENCE_RE.exec(s);
  if (m === null) {
    if (s === '') throw invalid('repository name must have at least one component');
    if (REFERENCE_RE.test(s.toLowerCase())) throw invalid('repository name must be lowercase');
    throw invalid('invalid reference format');
  }
  const nm = ANCHORED_NAME_RE.exec(m[1] ?? '');
  // REFERENCE_RE's name group matches ANCHORED_NAME_RE by construction.
  if (nm === null) throw invalid('invalid reference format');
  const domain = nm[1] ?? ''; // '' when the first component is not a valid host (host_name.io/foo)
  const path = nm[2] ?? '';
  if (path.length > NAME_TOTAL_LENGTH_MAX) {
    throw invalid(`repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  const tag = m[2];
  const digest = m[3];
  if (digest !== undefined) validateReferenceDigest(digest);
  return {
    domain,
    path,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

function invalid(message: string): LadingError {
  return new LadingError('INVALID_ARGUMENT', message);
}
