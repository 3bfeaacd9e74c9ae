import { posix } from 'node:path';
import { LadingError } from '../errors/index.js';
import type { ContainerConfig } from '../oci/index.js';

/**
 * `--change` for import and commit: Dockerfile instructions applied to a container config, in the
 * order given. Docker accepts CMD ENTRYPOINT ENV EXPOSE HEALTHCHECK LABEL ONBUILD USER VOLUME
 * WORKDIR; anything else is `<keyword> is not a valid change command` (behaviour §8.3).
 */
export function applyChanges(base: ContainerConfig, changes: readonly string[]): ContainerConfig {
  const c: ContainerConfig = { ...base };
  for (const raw of changes) {
    const line = raw.trim();
    const m = /^(\S+)\s*([\s\S]*)$/.exec(line);
    if (!m) continue;
    const kw = m[1]!.toUpperCase();
    const rest = m[2]!.trim();
    switch (kw) {
      case 'CMD':
        c.Cmd = commandForm(rest);
        break;
      case 'ENTRYPOINT':
        c.Entrypoint = commandForm(rest);
        break;
      case 'ENV': {
        const env = [...(c.Env ?? [])];
        for (const [k, v] of keyValues(rest, 'ENV')) {
          const i = env.findIndex((e) => e.slice(0, e.indexOf('=') < 0 ? e.length : e.indexOf('=')) === k);
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        c.Env = env;
        break;
      }
      case 'LABEL': {
        const labels = { ...(c.Labels ?? {}) };
        for (const [k, v] of keyValues(rest, 'LABEL')) labels[k] = v;
        c.Labels = labels;
        break;
      }
      case 'EXPOSE': {
        const ports = { ...(c.ExposedPorts ?? {}) };
        for (const p of words(rest)) for (const k of portKeys(p)) ports[k] = {};
        c.ExposedPorts = ports;
        break;
      }
      case 'WORKDIR': {
        const dir = unquote(rest);
        if (!dir) throw new LadingError('INVALID_ARGUMENT', 'WORKDIR requires exactly one argument');
        c.WorkingDir = posix.isAbsolute(dir) ? posix.normalize(dir) : posix.join(c.WorkingDir || '/', dir);
        break;
      }
      case 'USER':
        if (!rest) throw new LadingError('INVALID_ARGUMENT', 'USER requires exactly one argument');
        c.User = unquote(rest);
        break;
      case 'VOLUME': {
        const vols = { ...(c.Volumes ?? {}) };
        const list = rest.startsWith('[') ? jsonArray(rest) ?? words(rest) : words(rest);
        for (const v of list) vols[v] = {};
        c.Volumes = vols;
        break;
      }
      case 'ONBUILD':
        c.OnBuild = [...(c.OnBuild ?? []), rest];
        break;
      case 'HEALTHCHECK':
        c.Healthcheck = healthcheck(rest);
        break;
      default:
        throw new LadingError('INVALID_ARGUMENT', `${m[1]!.toLowerCase()} is not a valid change command`);
    }
  }
  return c;
}

function jsonArray(s: string): string[] | undefined {
  try {
    const v = JSON.parse(s) as unknown;
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
  } catch {
    return undefined;
  }
}

/** Exec form `["a","b"]`, else shell form wrapped in `/bin/sh -c` (Dockerfile semantics). */
function commandForm(rest: string): string[] {
  if (rest.startsWith('[')) {
    const a = jsonArray(rest);
    if (a) return a;
  }
  return ['/bin/sh', '-c', rest];
}

function unquote(s: string): string {
  const t = s.trim();
  if (t.length >= 2 && ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'")))) return t.slice(1, -1);
  return t;
}

/** Whitespace-separated words, honouring quotes and backslash escapes. */
function words(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q: string | undefined;
  let any = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '\\' && i + 1 < s.length && q !== "'") {
      cur += s[++i]!;
      any = true;
    } else if (q) {
      if (ch === q) q = undefined;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      q = ch;
      any = true;
    } else if (/\s/.test(ch)) {
      if (any || cur) out.push(cur);
      cur = '';
      any = false;
    } else {
      cur += ch;
    }
  }
  if (q) throw new LadingError('INVALID_ARGUMENT', `unmatched quote in ${JSON.stringify(s)}`);
  if (any || cur) out.push(cur);
  return out;
}

/** `k=v k2="v 2"`, or the legacy one-pair form `k v with spaces`. */
function keyValues(rest: string, kw: string): Array<[string, string]> {
  if (!(words(rest)[0] ?? '').includes('=')) {
    const k = /^(\S+)/.exec(rest)?.[1] ?? '';
    const v = rest.slice(k.length).trim();
    if (!k || (kw === 'ENV' && !v)) throw new LadingError('INVALID_ARGUMENT', `${kw} must have two arguments`);
    return [[k, unquote(v)]];
  }
  return words(rest).map((w) => {
    const i = w.indexOf('=');
    if (i <= 0) throw new LadingError('INVALID_ARGUMENT', `${kw} names can not be blank`);
    return [w.slice(0, i), w.slice(i + 1)] as [string, string];
  });
}

/** `80`, `80/udp`, `8000-8002/tcp` -> `80/tcp` … */
function portKeys(p: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
  if (!m) throw new LadingError('INVALID_ARGUMENT', `invalid containerPort: ${p}`);
  const lo = Number(m[1]);
  const hi = m[2] ? Number(m[2]) : lo;
  if (hi < lo || hi > 65535) throw new LadingError('INVALID_ARGUMENT', `invalid range specified for container port: ${p}`);
  const proto = (m[3] ?? 'tcp').toLowerCase();
  const out: string[] = [];
  for (let n = lo; n <= hi; n++) out.push(`${n}/${proto}`);
  return out;
}

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go durations (`30s`, `1m30s`) in nanoseconds, as Docker stores them. */
function duration(s: string, flag: string): number {
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let pos = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * UNIT_NS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos !== s.length || s.length === 0) throw new LadingError('INVALID_ARGUMENT', `time: invalid duration "${s}" for ${flag}`);
  return Math.round(total);
}

function healthcheck(rest: string): Record<string, unknown> {
  const w = rest.trim();
  if (/^none$/i.test(w)) return { Test: ['NONE'] };
  const hc: Record<string, unknown> = {};
  let s = w;
  for (;;) {
    const m = /^--(interval|timeout|start-period|retries)=(\S+)\s*/.exec(s);
    if (!m) break;
    s = s.slice(m[0].length);
    if (m[1] === 'retries') hc.Retries = Number(m[2]);
    else hc[m[1] === 'start-period' ? 'StartPeriod' : m[1] === 'interval' ? 'Interval' : 'Timeout'] = duration(m[2]!, `--${m[1]}`);
  }
  const cm = /^CMD\s+([\s\S]+)$/i.exec(s);
  if (!cm) throw new LadingError('INVALID_ARGUMENT', 'Unknown type in HEALTHCHECK (try CMD)');
  const arg = cm[1]!.trim();
  const exec = arg.startsWith('[') ? jsonArray(arg) : undefined;
  hc.Test = exec ? ['CMD', ...exec] : ['CMD-SHELL', arg];
  return hc;
}
