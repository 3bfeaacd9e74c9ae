/**
 * `Range: bytes=a-b | bytes=a- | bytes=-n` on a blob of `size` bytes → [start, end) or
 * 'unsatisfiable'; undefined when absent or not a single byte range (then the whole blob is sent,
 * as RFC 9110 allows for a Range it ignores).
 */
export function parseRangeHeader(h: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!h) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(h);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size };
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (!Number.isSafeInteger(start) || start >= size || last < start) return 'unsatisfiable';
  return { start, end: last + 1 };
}

/**
 * A chunk's `Content-Range` on PATCH/PUT: the spec's `<start>-<end>` (inclusive), and the
 * forms clients also send: `bytes <start>-<end>/<total|*>` and `bytes=<start>-<end>`.
 */
export function parseContentRange(h: string): { start: number; end: number } | undefined {
  const m = /^\s*(?:bytes[ =])?\s*(\d+)-(\d+)(?:\/(?:\d+|\*))?\s*$/i.exec(h);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return undefined;
  return { start, end };
}

/** The upload status `Range` header: `0-<last byte>`, `0-0` for an empty upload (as distribution). */
export const uploadRange = (offset: number): string => `0-${offset > 0 ? offset - 1 : 0}`;
