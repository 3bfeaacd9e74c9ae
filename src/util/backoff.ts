import type { Clock } from './clock.js';

/** Exponential backoff with full jitter: attempt 0 waits up to base, doubling up to max. */
export function backoffDelay(attempt: number, clock: Clock, base = 200, max = 10_000): number {
  const ceiling = Math.min(max, base * 2 ** attempt);
  return Math.floor(ceiling / 2 + (clock.random() * ceiling) / 2);
}

/** Parse a Retry-After header (seconds or HTTP date) into milliseconds, capped. */
export function retryAfterMs(header: string | undefined, clock: Clock, cap = 60_000): number | undefined {
  if (!header) return undefined;
  const secs = Number(header);
  if (Number.isFinite(secs) && secs >= 0) return Math.min(cap, secs * 1000);
  const at = Date.parse(header);
  if (Number.isNaN(at)) return undefined;
  return Math.min(cap, Math.max(0, at - clock.now()));
}
