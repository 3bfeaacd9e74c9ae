import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, sendJson, type RequestContext, type Logger } from '../server/index.js';
import { LadingError, errorCode } from '../errors/index.js';

/** The distribution spec's error codes with their HTTP status (distribution registry/api/errcode/register.go). */
export const OCI_ERRORS = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  TAG_INVALID: { status: 400, message: 'manifest tag did not match URI' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'The operation is unsupported.' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  RANGE_INVALID: { status: 416, message: 'invalid content range' },
  UNKNOWN: { status: 500, message: 'unknown error' },
} as const;

export type OciErrorCode = keyof typeof OCI_ERRORS;

/** What a handler throws: an OCI code, a message, optional detail, status and headers. */
export class RegistryHttpError extends HttpError {
  constructor(
    readonly ociCode: OciErrorCode,
    message?: string,
    o: { detail?: unknown; status?: number; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(o.status ?? OCI_ERRORS[ociCode].status, message ?? OCI_ERRORS[ociCode].message, {
      ...(o.headers ? { headers: o.headers } : {}),
      ...(o.cause !== undefined ? { cause: o.cause } : {}),
    });
    this.name = 'RegistryHttpError';
    this.detail = o.detail;
  }
  readonly detail: unknown;
}

export const ociError = (code: OciErrorCode, message?: string, o?: ConstructorParameters<typeof RegistryHttpError>[2]) => new RegistryHttpError(code, message, o);

/**
 * The registry's one error mapper: `{"errors":[{code,message,detail}]}` with the code's status.
 * Storage errors (LadingError) map by code; anything else is a 500 whose details stay in the log.
 */
export function registryErrorMapper(logger: Logger | undefined) {
  return (err: unknown, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void => {
    let e: RegistryHttpError | HttpError;
    if (err instanceof HttpError) e = err;
    else if (err instanceof LadingError || errorCode(err)) e = fromLadingError(err as LadingError);
    else {
      logger?.error({ reqId: ctx.requestId, err: err instanceof Error ? err.stack : String(err) }, 'internal error');
      e = new RegistryHttpError('UNKNOWN', 'internal server error');
    }
    if (e.status === 404 && !(e instanceof RegistryHttpError) && req.url?.startsWith('/v2/')) {
      e = new RegistryHttpError('NAME_UNKNOWN', 'unknown endpoint', { status: 404 });
    }
    const headers = e.o.headers ?? {};
    if (e instanceof RegistryHttpError) {
      const entry: Record<string, unknown> = { code: e.ociCode, message: e.message };
      if (e.detail !== undefined) entry.detail = e.detail;
      sendJson(res, e.status, { errors: [entry] }, headers);
    } else {
      const code = e.status === 405 ? 'UNSUPPORTED' : e.status === 413 ? 'SIZE_INVALID' : 'UNKNOWN';
      sendJson(res, e.status, { errors: [{ code, message: e.message }] }, headers);
    }
  };
}

function fromLadingError(err: LadingError): RegistryHttpError {
  switch (err.code) {
    case 'DIGEST_MISMATCH':
      return new RegistryHttpError('DIGEST_INVALID', err.message, { detail: err.detail });
    case 'SIZE_MISMATCH':
      return new RegistryHttpError('SIZE_INVALID', err.message);
    case 'MANIFEST_INVALID':
      return new RegistryHttpError('MANIFEST_INVALID', err.message);
    case 'UNAVAILABLE':
      return new RegistryHttpError('TOOMANYREQUESTS', err.message, { status: 503 });
    case 'CANCELED':
      return new RegistryHttpError('UNKNOWN', err.message, { status: 499 });
    default:
      return new RegistryHttpError('UNKNOWN', err.message);
  }
}
