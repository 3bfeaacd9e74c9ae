/**
 * One error class with a closed set of codes. Callers branch on `code`, never on message text.
 * The message is the user-visible wording (Docker's where Docker has one); advice goes in `hint`.
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'CONFLICT'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'DIGEST_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'MANIFEST_INVALID'
  | 'UNSUPPORTED'
  | 'UNAVAILABLE'
  | 'CANCELED'
  | 'INTERNAL';

export interface LadingErrorOptions {
  cause?: unknown;
  hint?: string;
  detail?: Record<string, unknown>;
}

export class LadingError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly detail: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, opts: LadingErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'LadingError';
    this.code = code;
    this.hint = opts.hint;
    this.detail = opts.detail;
  }
}

/** One entry of a registry's `{"errors":[...]}` body. */
export interface RegistryErrorEntry {
  code: string;
  message: string;
  detail?: unknown;
}

/** A registry answered with an error status. */
export class RegistryError extends LadingError {
  readonly status: number;
  readonly errors: RegistryErrorEntry[];
  readonly temporary: boolean;
  constructor(
    code: ErrorCode,
    message: string,
    o: { status: number; errors: RegistryErrorEntry[]; temporary: boolean } & LadingErrorOptions,
  ) {
    super(code, message, o);
    this.name = 'RegistryError';
    this.status = o.status;
    this.errors = o.errors;
    this.temporary = o.temporary;
  }
}

export const isCode = (e: unknown, c: ErrorCode): boolean =>
  e instanceof Error && (e as Partial<LadingError>).code === c;

export const errorCode = (e: unknown): ErrorCode | undefined => {
  const c = e instanceof Error ? (e as Partial<LadingError>).code : undefined;
  return typeof c === 'string' && c in EXIT_CODES ? c : undefined;
};

/** CLI exit code per error code (architecture guide §3). */
export const EXIT_CODES: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 1,
  NOT_FOUND: 1,
  ALREADY_EXISTS: 1,
  CONFLICT: 1,
  UNAUTHORIZED: 1,
  DENIED: 1,
  DIGEST_MISMATCH: 1,
  SIZE_MISMATCH: 1,
  MANIFEST_INVALID: 1,
  UNSUPPORTED: 1,
  UNAVAILABLE: 1,
  CANCELED: 130,
  INTERNAL: 1,
};

/** Engine API status per error code. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  CONFLICT: 409,
  UNAUTHORIZED: 401,
  DENIED: 403,
  DIGEST_MISMATCH: 500,
  SIZE_MISMATCH: 500,
  MANIFEST_INVALID: 500,
  UNSUPPORTED: 501,
  UNAVAILABLE: 503,
  CANCELED: 499,
  INTERNAL: 500,
};

/** Turn an abort into CANCELED; never retry it. */
export function canceled(signal: AbortSignal | undefined): LadingError {
  return new LadingError('CANCELED', 'operation canceled', { cause: signal?.reason });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw canceled(signal);
}

/** Strip credentials from URLs and known secret query parameters before showing or logging. */
export function redact(text: string): string {
  return text
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+(?::[^/\s@]*)?@/gi, '$1')
    .replace(/([?&](?:access_token|token|X-Amz-Signature|X-Amz-Credential|sig|signature)=)[^&\s"]+/gi, '$1REDACTED')
    .replace(/(authorization:\s*)(\S+\s+)?\S+/gi, '$1REDACTED');
}
