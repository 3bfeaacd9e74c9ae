import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-error.js';

/**
 * Read a small request body (JSON documents, manifests) up to `maxBytes`. A declared
 * Content-Length over the limit is refused before a byte is read.
 */
export async function readBody(req: IncomingMessage, maxBytes: number, tooLarge: () => Error = () => new HttpError(413, 'request body too large')): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of req) {
    const b = c as Buffer;
    total += b.length;
    if (total > maxBytes) {
      req.resume();
      throw tooLarge();
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks, total);
}

/** Send a fully built body with its Content-Length. */
export function sendBytes(res: import('node:http').ServerResponse, status: number, body: Buffer | string, headers: Record<string, string | number> = {}): void {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { ...headers, 'content-length': buf.length });
  res.end(res.req.method === 'HEAD' ? undefined : buf);
}

export function sendJson(res: import('node:http').ServerResponse, status: number, doc: unknown, headers: Record<string, string | number> = {}): void {
  sendBytes(res, status, JSON.stringify(doc), { 'content-type': 'application/json', ...headers });
}

/** An empty answer (201, 202, 204) with Content-Length: 0. */
export function sendEmpty(res: import('node:http').ServerResponse, status: number, headers: Record<string, string | number> = {}): void {
  res.writeHead(status, { ...headers, 'content-length': 0 });
  res.end();
}
