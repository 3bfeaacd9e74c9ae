import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

export interface CachedScriptResult<T> {
  exports: T;
  /** Whether V8 compiled from `cacheFile` (false when it was missing, stale or made by another V8). */
  fromCache: boolean;
}

/**
 * Runs a CommonJS file (lading's bundled CLI) with V8's code cache: compiled code is kept in
 * `cacheFile` and reused while the file and the V8 version and flags are the same, which saves
 * most of the compile time of a short-lived command. Node 20 has no built-in compile cache
 * (module.enableCompileCache is Node 22). A missing, stale or unwritable cache only costs speed.
 */
export function runCachedScript<T>(file: string, cacheFile = `${file}.cache`): CachedScriptResult<T> {
  const code = readFileSync(file, 'utf8');
  // V8 checks only the source's length, and would run stale code for a rebuilt file of the same
  // length: the cache starts with the source's hash, and a cache for other source is not used.
  const key = sourceKey(code, file);
  let cachedData: Buffer | undefined;
  try {
    const c = readFileSync(cacheFile);
    if (c.length > key.length && key.equals(c.subarray(0, key.length))) cachedData = c.subarray(key.length);
  } catch {
    // first run, or the cache was removed
  }
  const source = `(function (exports, require, module, __filename, __dirname) {${code}\n})`;
  const script = new Script(source, { filename: file, ...(cachedData ? { cachedData } : {}) });
  const module = { exports: {} as T };
  const init = script.runInThisContext() as (e: unknown, r: NodeJS.Require, m: unknown, f: string, d: string) => void;
  init.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  const fromCache = cachedData !== undefined && !script.cachedDataRejected;
  if (!fromCache) {
    // Made after the module ran, so it covers everything its top level compiled. Atomic, so a
    // concurrent run never reads half a cache.
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, Buffer.concat([key, script.createCachedData()]));
      renameSync(tmp, cacheFile);
    } catch {
      // a read-only installation: run without a cache
      rmSync(tmp, { force: true });
    }
  }
  return { exports: module.exports, fromCache };
}

/**
 * A file made by lading's bundler starts with the SHA-256 of the rest (`//# sha256=<hex>`, see
 * stampSource): trusted, so a command neither hashes the bundle nor loads node:crypto (~6 ms).
 * Any other file is hashed.
 */
const STAMP = /^\/\/# sha256=([0-9a-f]{64})\n/;

/** `body` with the stamp sourceKey trusts; `sha256Hex` must be the hash of `body`. */
export function stampSource(body: string, sha256Hex: string): string {
  return `//# sha256=${sha256Hex}\n${body}`;
}

function sourceKey(code: string, file: string): Buffer {
  const stamp = STAMP.exec(code.slice(0, 80));
  if (stamp) return Buffer.from(stamp[1]!, 'hex');
  const { createHash } = createRequire(file)('node:crypto') as typeof import('node:crypto');
  return createHash('sha256').update(code).digest();
}
