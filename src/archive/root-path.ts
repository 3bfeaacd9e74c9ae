import { lstatSync, readlinkSync } from 'node:fs';
import { LadingError } from '../errors/index.js';

/** Symlinks followed in one resolution before giving up (Linux's own limit is 40). */
const MAX_LINKS = 255;

/**
 * A tar entry name as path components relative to the root: leading '/' stripped (absolute
 * names are taken relative to the root, as Docker does), '.' and empty components dropped,
 * '..' resolved lexically and never above the root. `[]` is the root itself.
 */
export function cleanName(name: string): string[] {
  if (name.includes('\0')) throw new LadingError('INVALID_ARGUMENT', `invalid tar entry ${JSON.stringify(name)}: NUL in name`);
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') out.pop();
    else out.push(c);
  }
  return out;
}

/**
 * Resolves relative paths inside `root` the way containerd's fs.RootPath does: every symlink met
 * on the way is followed as if `root` were '/', so neither an absolute target nor a run of '..'
 * can leave the root. The result is a root-relative path ('' is the root) whose components are
 * real directories up to the first one that does not exist.
 *
 * Real directories found on the way are cached; `invalidate()` must be called whenever a
 * directory or symlink is removed or replaced below the root.
 */
export class RootResolver {
  private readonly dirs = new Set<string>();
  /** joined lexical path -> resolved path, for directories known to exist */
  private readonly lexical = new Map<string, string>();
  constructor(readonly root: string) {}

  abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  /**
   * Record that `rel` is a real directory (we just created or checked it), and, when given, that
   * the lexical path `lexical` resolves to it.
   */
  noteDir(rel: string, lexical?: string): void {
    this.dirs.add(rel);
    if (lexical !== undefined) this.lexical.set(lexical, rel);
  }

  isKnownDir(rel: string): boolean {
    return rel === '' || this.dirs.has(rel);
  }

  invalidate(): void {
    this.dirs.clear();
    this.lexical.clear();
  }

  /** `resolve(parts)` through a cache, for the parents of entries (nearly always a cache hit). */
  resolveDir(parts: readonly string[]): string {
    if (parts.length === 0) return '';
    const key = parts.join('/');
    const hit = this.lexical.get(key);
    if (hit !== undefined && this.dirs.has(hit)) return hit;
    const r = this.resolve(parts, true);
    if (this.dirs.has(r)) this.lexical.set(key, r);
    return r;
  }

  /**
   * Resolve `parts` following every symlink, the last component included unless `followLast`
   * is false (then the last component is kept as is: for the entry itself, and for hardlink
   * targets, which link to a symlink rather than through it, like containerd's hardlinkRootPath).
   */
  resolve(parts: readonly string[], followLast = true): string {
    const out: string[] = [];
    const queue = parts.slice();
    let links = 0;
    while (queue.length > 0) {
      const c = queue.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        out.pop();
        continue;
      }
      if (queue.length === 0 && !followLast) {
        out.push(c);
        break;
      }
      const cand = out.length === 0 ? c : `${out.join('/')}/${c}`;
      if (this.dirs.has(cand)) {
        out.push(c);
        continue;
      }
      const st = lstatQuiet(this.abs(cand));
      if (st !== undefined && st.isSymbolicLink()) {
        if (++links > MAX_LINKS) {
          throw new LadingError('INVALID_ARGUMENT', `invalid tar entry: too many levels of symbolic links resolving ${JSON.stringify(parts.join('/'))}`);
        }
        const target = readlinkSync(this.abs(cand));
        if (target.startsWith('/')) out.length = 0;
        queue.unshift(...target.split('/'));
        continue;
      }
      out.push(c);
      if (st !== undefined && st.isDirectory()) this.dirs.add(cand);
    }
    return out.join('/');
  }
}

/** lstat that answers undefined for a missing path (or a path under a non-directory). */
export function lstatQuiet(path: string): import('node:fs').Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}
