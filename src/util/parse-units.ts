import { LadingError } from '../errors/index.js';

const GO_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Go's time.ParseDuration ("1h30m", "10m", "1.5h", "-2s") in milliseconds, plus a `d` (24h)
 * unit that Go lacks and users of --unused-for expect ("30d"). Undefined when not a duration.
 */
export function parseGoDuration(s: string): number | undefined {
  let rest = s;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  const re = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)/;
  while (rest !== '') {
    const m = re.exec(rest);
    if (!m) return undefined;
    const unit = m[2]!;
    total += Number(m[1]) * (unit === 'd' ? 86_400_000 : GO_UNITS[unit]!);
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12, p: 1e15, pb: 1e15,
  kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4, pib: 1024 ** 5,
};

/** "10GB", "512MiB", "1.5g", "1000" -> bytes (decimal units as Docker prints them; binary with "i"). */
export function parseByteSize(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(s);
  const mult = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || mult === undefined) throw new LadingError('INVALID_ARGUMENT', `invalid size: '${s}'`);
  return Math.floor(Number(m[1]) * mult);
}
