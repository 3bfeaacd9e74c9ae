/**
 * Docker's human sizes: decimal units, `%.3g` style (go-units HumanSizeWithPrecision).
 * 999500 bytes prints "1e+03kB" exactly as Docker does.
 */
const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

export function formatG(value: number, precision: number): string {
  let s = value.toPrecision(precision);
  if (s.includes('e')) {
    let [mant, exp] = s.split('e') as [string, string];
    if (mant.includes('.')) mant = mant.replace(/0+$/, '').replace(/\.$/, '');
    const sign = exp.startsWith('-') ? '-' : '+';
    const digits = exp.replace(/^[+-]/, '').padStart(2, '0');
    return `${mant}e${sign}${digits}`;
  }
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s;
}

export function humanSize(bytes: number, precision = 3): string {
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return `${formatG(v, precision)}${UNITS[i]}`;
}

/** Docker's "N units ago" wording (go-units HumanDuration), d in milliseconds. */
export function humanDuration(ms: number): string {
  const secs = Math.floor(ms / 1000);
  if (secs < 1) return 'Less than a second';
  if (secs === 1) return '1 second';
  if (secs < 60) return `${secs} seconds`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.floor(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(Math.floor(ms / 3_600_000) / 24 / 365)} years`;
}
