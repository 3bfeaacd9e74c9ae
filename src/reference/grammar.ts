/**
 * Docker's reference grammar as regular expressions, ported from distribution/reference
 * (regexp.go, v0.6, vendored by CLI 28). Kept as the same building blocks so the two can be
 * compared line by line; JS backtracking picks the same submatches as Go's leftmost-first engine.
 */

const alphanumeric = '[a-z0-9]+';
// One dot, one or two underscores, or any run of dashes.
const separator = '(?:[._]|__|[-]+)';
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const optionalPort = '(?::[0-9]+)?';
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = `${host}${optionalPort}`;
const tag = '[\\w][\\w.-]{0,127}';
const digest = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const name = `(?:${domainAndPort}/)?${remoteName}`;

/** Groups: 1 name, 2 tag, 3 digest. */
export const REFERENCE_RE = new RegExp(`^(${name})(?::(${tag}))?(?:@(${digest}))?$`);
/** Groups: 1 domain (may be absent), 2 path. */
export const ANCHORED_NAME_RE = new RegExp(`^(?:(${domainAndPort})/)?(${remoteName})$`);
export const ANCHORED_TAG_RE = new RegExp(`^${tag}$`);
/** A bare image ID: never accepted as a repository name. */
export const IDENTIFIER_RE = /^[a-f0-9]{64}$/;

export const NAME_TOTAL_LENGTH_MAX = 255;
export const DEFAULT_DOMAIN = 'docker.io';
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
export const OFFICIAL_REPO_PREFIX = 'library/';
