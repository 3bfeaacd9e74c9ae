/**
 * An error that knows its HTTP answer (hono's HTTPException): handlers throw it, and the server's
 * one error mapper turns it, or anything else, into a response.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly o: { headers?: Record<string, string>; body?: unknown; cause?: unknown } = {},
  ) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause });
    this.name = 'HttpError';
  }
}
