import { ClientError } from './output.js';
import { GoTemplate, TemplateContext } from './go-template.js';
import { renderTable } from './table.js';

/** A `--format` value as Docker's CLI reads it. */
export type ParsedFormat =
  | { kind: 'table'; template?: GoTemplate }
  | { kind: 'template'; template: GoTemplate };

/**
 * Docker's formatter: `table` alone is the default table; `table TEMPLATE` adds a header row and
 * aligns columns at tabs; `json` is `{{json .}}` per row; anything else is a template per row.
 * `\t` and `\n` written literally become tab and newline; surrounding spaces are trimmed.
 */
export function parseFormat(format: string | undefined): ParsedFormat {
  if (format === undefined || format === '' || format === 'table') return { kind: 'table' };
  if (format === 'json') return { kind: 'template', template: new GoTemplate('{{json .}}') };
  const isTable = format.startsWith('table');
  const body = (isTable ? format.slice(5) : format).replace(/^ +| +$/g, '').replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const template = new GoTemplate(body);
  return isTable ? { kind: 'table', template } : { kind: 'template', template };
}

/** Rows through a custom template: a header row from `headers` and tab alignment for tables. */
export function renderTemplate(f: ParsedFormat & { template: GoTemplate }, rows: TemplateContext[], headers: Record<string, string>, typeName: string): string {
  const lines = rows.map((r) => f.template.execute(r));
  if (f.kind === 'template') return lines.map((l) => `${l}\n`).join('');
  const header = f.template.execute(new TemplateContext(typeName, headers));
  return renderTable([header, ...lines].flatMap((l) => l.split('\n')).map((l) => l.split('\t')));
}

const pad2 = (n: number) => String(n).padStart(2, '0');

function zoneAbbrev(d: Date): string {
  try {
    const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName');
    return part?.value ?? '';
  } catch {
    return '';
  }
}

function offset(d: Date, sep: string): string {
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return `${sign}${pad2(Math.floor(a / 60))}${sep}${pad2(a % 60)}`;
}

/** Go's zero time, what Docker shows for an image without `created`. */
export const GO_ZERO_TIME = '0001-01-01 00:00:00 +0000 UTC';

/** Go's default time layout in local time: `2026-11-23 06:48:22 +0000 UTC`. */
export function goLocalTime(ms: number): string {
  const d = new Date(ms);
  const date = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  return `${date} ${time} ${offset(d, '')} ${zoneAbbrev(d)}`;
}

/** RFC 3339 in local time, seconds precision: `2026-11-23T06:48:21Z` or `…-05:00`. */
export function rfc3339Local(ms: number): string {
  const d = new Date(ms);
  const date = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  return `${date}T${time}${d.getTimezoneOffset() === 0 ? 'Z' : offset(d, ':')}`;
}

/** `--filter key=value` values grouped by key; a value without `=` is Docker's flag error (exit 125). */
export function parseFilterFlags(values: readonly string[] | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of values ?? []) {
    const eq = v.indexOf('=');
    if (eq < 0) {
      throw new ClientError(
        'INVALID_ARGUMENT',
        `invalid argument "${v}" for "-f, --filter" flag: bad format of filter (expected name=value)`,
        { detail: { exitCode: 125 } },
      );
    }
    const key = v.slice(0, eq).trim().toLowerCase();
    (out[key] ??= []).push(v.slice(eq + 1));
  }
  return out;
}
