import { STATUS_CODES } from 'node:http';
import type { Readable } from 'node:stream';
import { LadingError, RegistryError, redact, type ErrorCode, type RegistryErrorEntry } from '../errors/index.js';
import { parseChallenges } from './challenge.js';

/** Error bodies are read up to 64 KiB (ggcr transport/error.go). */
export const MAX_ERROR_BODY = 64 * 1024;

/** Read at most `limit` bytes of a body, then drop the rest: error bodies are untrusted. */
export async function readPrefix(body: Readable, limit = MAX_ERROR_BODY): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of body) {
      const b = chunk as Buffer;
      chunks.push(b.length + n > limit ? b.subarray(0, limit - n) : b);
      n += b.length;
      if (n >= limit) break;
    }
  } catch {
    // A broken error body still leaves us the status.
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks);
}

/** `{"errors":[{code,message,detail}]}`; anything else yields []. */
export function parseErrorBody(buf: Uint8Array): RegistryErrorEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(buf).toString('utf8'));
  } catch {
    return [];
  }
  const errors = (doc as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return [];
  const out: RegistryErrorEntry[] = [];
  for (const e of errors) {
    if (typeof e !== 'object' || e === null) continue;
    const { code, message, detail } = e as Record<string, unknown>;
    const entry: RegistryErrorEntry = { code: typeof code === 'string' ? code : 'UNKNOWN', message: typeof message === 'string' ? message : '' };
    if (detail !== undefined) entry.detail = detail;
    out.push(entry);
  }
  return out;
}

/** distribution's errcode.Error.Error(): `manifest unknown: manifest unknown`. */
export function errcodeString(e: RegistryErrorEntry): string {
  const code = e.code.toLowerCase().replace(/_/g, ' ');
  return e.message ? `${code}: ${e.message}` : code;
}

/** errcode.Errors.Error(): one error alone, several on separate lines. */
export function errorsString(errors: RegistryErrorEntry[]): string {
  if (errors.length === 1) return errcodeString(errors[0]!);
  return `errors:\n${errors.map((e) => `${errcodeString(e)}\n`).join('')}`;
}

const TEMPORARY_CODES = new Set(['BLOB_UPLOAD_INVALID', 'TOOMANYREQUESTS', 'UNKNOWN', 'UNAVAILABLE']);
export const TEMPORARY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

const CODE_MAP: Record<string, ErrorCode> = {
  MANIFEST_UNKNOWN: 'NOT_FOUND',
  BLOB_UNKNOWN: 'NOT_FOUND',
  NAME_UNKNOWN: 'NOT_FOUND',
  BLOB_UPLOAD_UNKNOWN: 'NOT_FOUND',
  MANIFEST_BLOB_UNKNOWN: 'NOT_FOUND',
  UNAUTHORIZED: 'UNAUTHORIZED',
  DENIED: 'DENIED',
  DIGEST_INVALID: 'DIGEST_MISMATCH',
  SIZE_INVALID: 'SIZE_MISMATCH',
  MANIFEST_INVALID: 'MANIFEST_INVALID',
  MANIFEST_UNVERIFIED: 'MANIFEST_INVALID',
  NAME_INVALID: 'INVALID_ARGUMENT',
  TAG_INVALID: 'INVALID_ARGUMENT',
  RANGE_INVALID: 'INVALID_ARGUMENT',
  PAGINATION_NUMBER_INVALID: 'INVALID_ARGUMENT',
  UNSUPPORTED: 'UNSUPPORTED',
  TOOMANYREQUESTS: 'UNAVAILABLE',
  UNAVAILABLE: 'UNAVAILABLE',
};

export function codeForStatus(status: number): ErrorCode {
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'DENIED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 409) return 'CONFLICT';
  if (TEMPORARY_STATUSES.has(status)) return 'UNAVAILABLE';
  if (status === 400 || status === 405 || status === 416) return 'INVALID_ARGUMENT';
  return 'INTERNAL';
}

/** What a registry said, before the caller decides on wording. */
export interface ErrorResponse {
  status: number;
  errors: RegistryErrorEntry[];
  /** Docker-style text: the errcode string, or `received unexpected HTTP status: 500 Internal Server Error`. */
  text: string;
  temporary: boolean;
  code: ErrorCode;
}

/**
 * Read an error response (at most 64 KiB). As in distribution's client, an OAuth error in the
 * Bearer challenge (`insufficient_scope`, `invalid_token`) comes first: Docker Hub signals a
 * missing or private repository that way.
 */
export async function readErrorResponse(res: { statusCode: number; headers: Record<string, string | string[] | undefined>; body: Readable }): Promise<ErrorResponse> {
  const status = res.statusCode;
  const body = await readPrefix(res.body);
  const errors = parseErrorBody(body);
  if (status === 401 || status === 403) {
    for (const c of parseChallenges(res.headers['www-authenticate'])) {
      if (c.scheme !== 'bearer') continue;
      const kind = c.params.error;
      const code = kind === 'invalid_token' ? 'UNAUTHORIZED' : kind === 'insufficient_scope' ? 'DENIED' : undefined;
      if (!code) continue;
      const message = c.params.error_description || (code === 'DENIED' ? 'requested access to the resource is denied' : 'authentication required');
      errors.unshift({ code, message });
      break;
    }
  }
  if (errors.length === 0) {
    if (status === 401) errors.push({ code: 'UNAUTHORIZED', message: 'authentication required' });
    else if (status === 403) errors.push({ code: 'DENIED', message: 'requested access to the resource is denied' });
  }
  const text = errors.length > 0 ? errorsString(errors) : `received unexpected HTTP status: ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd();
  const first = errors[0];
  const temporary = TEMPORARY_STATUSES.has(status) || errors.some((e) => TEMPORARY_CODES.has(e.code));
  const code = status === 401 ? 'UNAUTHORIZED' : status === 403 ? 'DENIED' : (first && CODE_MAP[first.code]) ?? codeForStatus(status);
  return { status, errors, text: redact(text), temporary, code };
}

export function registryError(r: ErrorResponse, message: string, o: { code?: ErrorCode; cause?: unknown } = {}): RegistryError {
  return new RegistryError(o.code ?? r.code, redact(message), { status: r.status, errors: r.errors, temporary: r.temporary, cause: o.cause });
}

/** Go's url.Error prefix: `Get "https://host/v2/"`. */
export function goMethod(method: string): string {
  return method.charAt(0) + method.slice(1).toLowerCase();
}

export function urlErrorPrefix(method: string, url: string): string {
  return `${goMethod(method)} "${redact(url)}"`;
}

function errnoCode(e: unknown): string | undefined {
  const seen = new Set<unknown>();
  let cur: unknown = e;
  while (cur && typeof cur === 'object' && !seen.has(cur)) {
    seen.add(cur);
    const c = (cur as { code?: unknown }).code;
    if (typeof c === 'string' && c !== 'UND_ERR_ABORTED') return c;
    const errs = (cur as { errors?: unknown }).errors;
    if (Array.isArray(errs) && errs.length > 0) {
      cur = errs[0];
      continue;
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The underlying errno/undici code of a network error (first of an AggregateError, through causes). */
export function networkErrorCode(e: unknown): string | undefined {
  return errnoCode(e);
}

/** Connection-level failures worth another attempt (never DNS "no such host" nor refused). */
export function isRetryableNetworkError(e: unknown): boolean {
  if (e instanceof LadingError) return false;
  const c = errnoCode(e);
  return (
    c === 'ECONNRESET' ||
    c === 'EPIPE' ||
    c === 'ETIMEDOUT' ||
    c === 'EAI_AGAIN' ||
    c === 'ECONNABORTED' ||
    c === 'UND_ERR_SOCKET' ||
    c === 'UND_ERR_CONNECT_TIMEOUT' ||
    c === 'UND_ERR_HEADERS_TIMEOUT' ||
    c === 'UND_ERR_BODY_TIMEOUT' ||
    c === 'UND_ERR_CLOSED' ||
    c === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH' ||
    c === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH'
  );
}

/**
 * Docker's wording for a failed connection: `Get "http://127.0.0.1:5999/v2/": dial tcp
 * 127.0.0.1:5999: connect: connection refused`. Always UNAVAILABLE.
 */
export function networkError(method: string, url: string, e: unknown): LadingError {
  if (e instanceof LadingError) return e;
  const u = new URL(url);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  const addr = (() => {
    let cur: unknown = e;
    const seen = new Set<unknown>();
    while (cur && typeof cur === 'object' && !seen.has(cur)) {
      seen.add(cur);
      const a = cur as { address?: unknown; port?: unknown; errors?: unknown; cause?: unknown };
      if (typeof a.address === 'string') return a.address.includes(':') ? `[${a.address}]:${String(a.port ?? port)}` : `${a.address}:${String(a.port ?? port)}`;
      cur = Array.isArray(a.errors) && a.errors.length > 0 ? a.errors[0] : a.cause;
    }
    return `${u.hostname}:${port}`;
  })();
  const code = errnoCode(e);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  let detail: string;
  switch (code) {
    case 'ECONNREFUSED':
      detail = `dial tcp ${addr}: connect: connection refused`;
      break;
    case 'ENOTFOUND':
      detail = `dial tcp: lookup ${host}: no such host`;
      break;
    case 'EAI_AGAIN':
      detail = `dial tcp: lookup ${host}: temporary failure in name resolution`;
      break;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      detail = `dial tcp ${addr}: i/o timeout`;
      break;
    case 'EHOSTUNREACH':
      detail = `dial tcp ${addr}: connect: no route to host`;
      break;
    case 'ENETUNREACH':
      detail = `dial tcp ${addr}: connect: network is unreachable`;
      break;
    case 'ECONNRESET':
      detail = 'connection reset by peer';
      break;
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
      detail = 'http: server gave HTTP response to HTTPS client';
      break;
    default:
      detail = e instanceof Error ? e.message : String(e);
      if (/wrong version number|packet length too long/i.test(detail)) detail = 'http: server gave HTTP response to HTTPS client';
  }
  return new LadingError('UNAVAILABLE', `${urlErrorPrefix(method, url)}: ${redact(detail)}`, { cause: e });
}
