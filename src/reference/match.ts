import { LadingError } from '../errors/index.js';
import { familiarName, familiarString } from './format.js';
import type { Reference } from './parse.js';

/**
 * Go's path.Match, ported exactly (Go 1.19+: a bad pattern is reported even when the name fails
 * early): `*` is any run without `/`, `?` one character but `/`, `[a-z]`/`[^x]` classes, `\`
 * escapes. Works on code points where Go works on UTF-8; identical for references (ASCII).
 * Throws LadingError('INVALID_ARGUMENT', 'syntax error in pattern').
 */
export function matchesReferencePattern(pattern: string, familiar: string): boolean {
  const pat = Array.from(pattern);
  const name = Array.from(familiar);
  let p = 0;
  let n = 0;
  outer: while (p < pat.length) {
    const { star, start, end } = scanChunk(pat, p);
    p = end;
    // A trailing `*` takes the rest unless it crosses a `/`.
    if (star && start === end) return !name.slice(n).includes('/');
    const t = matchChunk(pat, start, end, name, n);
    // The last chunk must consume the whole name; otherwise fall back on the star.
    if (t >= 0 && (t === name.length || p < pat.length)) {
      n = t;
      continue;
    }
    if (star) {
      for (let i = n; i < name.length && name[i] !== '/'; i++) {
        const u = matchChunk(pat, start, end, name, i + 1);
        if (u >= 0) {
          if (p === pat.length && u < name.length) continue;
          n = u;
          continue outer;
        }
      }
    }
    // No match: still report a malformed remainder of the pattern, as Go does.
    while (p < pat.length) {
      const c = scanChunk(pat, p);
      p = c.end;
      matchChunk(pat, c.start, c.end, [], 0);
    }
    return false;
  }
  return n === name.length;
}

/**
 * Docker's FamiliarMatch, the `reference=` image filter: the pattern against the familiar string
 * (`busybox:latest`, `busybox@sha256:...`), else against the familiar name (`busybox`).
 */
export function referenceFilterMatch(pattern: string, r: Reference): boolean {
  return matchesReferencePattern(pattern, familiarString(r)) || matchesReferencePattern(pattern, familiarName(r));
}

function scanChunk(pat: string[], from: number): { star: boolean; start: number; end: number } {
  let p = from;
  let star = false;
  while (p < pat.length && pat[p] === '*') {
    p++;
    star = true;
  }
  let inRange = false;
  let i = p;
  scan: for (; i < pat.length; i++) {
    switch (pat[i]) {
      case '\\':
        if (i + 1 < pat.length) i++; // a dangling `\` is reported by matchChunk
        break;
      case '[':
        inRange = true;
        break;
      case ']':
        inRange = false;
        break;
      case '*':
        if (!inRange) break scan;
        break;
    }
  }
  return { star, start: p, end: i };
}

/** Match one chunk at name[from]; index after it, or -1. Keeps parsing after a failure to find bad syntax. */
function matchChunk(pat: string[], start: number, end: number, name: string[], from: number): number {
  let c = start;
  let s = from;
  let failed = false;
  while (c < end) {
    if (!failed && s >= name.length) failed = true;
    const ch = pat[c];
    if (ch === '[') {
      let r = 0;
      if (!failed) r = cp(name[s++]);
      c++;
      let negated = false;
      if (c < end && pat[c] === '^') {
        negated = true;
        c++;
      }
      let match = false;
      for (let nrange = 0; ; nrange++) {
        if (c < end && pat[c] === ']' && nrange > 0) {
          c++;
          break;
        }
        let lo: number;
        let hi: number;
        [lo, c] = getEsc(pat, c, end);
        hi = lo;
        if (pat[c] === '-') [hi, c] = getEsc(pat, c + 1, end);
        if (lo <= r && r <= hi) match = true;
      }
      if (match === negated) failed = true;
    } else if (ch === '?') {
      if (!failed) {
        if (name[s] === '/') failed = true;
        s++;
      }
      c++;
    } else {
      if (ch === '\\') {
        c++;
        if (c >= end) throw badPattern();
      }
      if (!failed) {
        if (pat[c] !== name[s]) failed = true;
        s++;
      }
      c++;
    }
  }
  return failed ? -1 : s;
}

/** One class endpoint, possibly escaped; something must follow it inside the chunk. */
function getEsc(pat: string[], from: number, end: number): [number, number] {
  let c = from;
  if (c >= end || pat[c] === '-' || pat[c] === ']') throw badPattern();
  if (pat[c] === '\\') {
    c++;
    if (c >= end) throw badPattern();
  }
  const r = cp(pat[c]);
  c++;
  if (c >= end) throw badPattern();
  return [r, c];
}

function cp(ch: string | undefined): number {
  return ch === undefined ? 0 : (ch.codePointAt(0) ?? 0);
}

function badPattern(): LadingError {
  return new LadingError('INVALID_ARGUMENT', 'syntax error in pattern');
}
