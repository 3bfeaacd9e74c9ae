import { LadingError } from '../errors/index.js';
import { parseGoDuration } from '../util/index.js';

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(\.\d+)?)?)?)?(Z|z|[+-]\d{2}:\d{2})?$/;

/**
 * Docker's `until=` value (GetTimestamp) as unix ms: a Go duration before `now` ("24h", "1h30m"),
 * an RFC 3339 date-time or date with or without zone (local time without), or unix seconds with
 * an optional fraction.
 */
export function parseFilterTimestamp(value: string, now: number): number {
  const d = value !== '0' ? parseGoDuration(value) : undefined;
  if (d !== undefined) return now - d;
  const m = DATE_TIME.exec(value);
  if (m) {
    const [, y, mo, da, h = '00', mi = '00', se = '00', frac = '', zone] = m;
    const ms = frac ? Math.floor(Number(`0${frac}`) * 1000) : 0;
    let t: number;
    if (zone === undefined) {
      t = new Date(Number(y), Number(mo) - 1, Number(da), Number(h), Number(mi), Number(se), ms).getTime();
    } else {
      const z = zone === 'Z' || zone === 'z' ? 'Z' : zone;
      t = Date.parse(`${y}-${mo}-${da}T${h}:${mi}:${se}${frac ? frac.slice(0, 4).padEnd(4, '0') : ''}${z}`);
    }
    if (!Number.isNaN(t)) return t;
    throw new LadingError('INVALID_ARGUMENT', `parsing time ${JSON.stringify(value)}: invalid date`);
  }
  if (value.includes('-')) throw new LadingError('INVALID_ARGUMENT', `parsing time ${JSON.stringify(value)}: cannot parse`);
  if (/^\d+(?:\.\d+)?$/.test(value)) return Math.floor(Number(value) * 1000);
  throw new LadingError('INVALID_ARGUMENT', `failed to parse value as time or duration: ${JSON.stringify(value)}`);
}
