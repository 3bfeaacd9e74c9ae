import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * A module loaded on its first use. Most CLI commands never touch tar, zstd or child processes;
 * loading them eagerly cost every command tens of milliseconds of start-up (measured with
 * --cpu-prof). Node built-ins (`node:zlib`) and packages resolve as from this package.
 */
export function lazyRequire<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(id) as T);
}

/** tar-stream, shared by layer unpacking and the archive formats; most commands never touch a tar. */
export const tarStream = lazyRequire<typeof import('tar-stream')>('tar-stream');
