import { EXIT_CODES, errorCode, LadingError } from '../errors/index.js';

/** Where a command writes; injectable so tests capture output. */
export interface Io {
  stdout: { write(s: string): void; isTTY?: boolean; columns?: number };
  stderr: { write(s: string): void };
  stdin?: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  now(): number;
}

export const processIo = (): Io => ({
  stdout: process.stdout,
  stderr: process.stderr,
  // A getter: Node builds process.stdin (a file, pipe or TTY stream) on first access, ~2 ms of
  // every command, and few commands read it.
  get stdin() {
    return process.stdin;
  },
  env: process.env,
  now: () => Date.now(),
});

/** Errors that happen where Docker's daemon would answer get its prefix; client-side ones do not. */
export class ClientError extends LadingError {}

export function reportError(io: Io, e: unknown, debug: boolean): number {
  const code = errorCode(e);
  if (!code || code === 'INTERNAL') {
    io.stderr.write(`Error: ${(e as Error)?.message ?? String(e)}\n`);
    if (debug && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`);
    return 1;
  }
  const err = e as LadingError;
  if (code === 'CANCELED') return EXIT_CODES.CANCELED;
  const bare = err instanceof ClientError || err.detail?.bare === true;
  io.stderr.write(bare ? `${err.message}\n` : `Error response from daemon: ${err.message}\n`);
  if (err.hint) io.stderr.write(`${err.hint}\n`);
  if (debug && err.stack) io.stderr.write(`${err.stack}\n`);
  // Flag syntax errors exit 125 as Docker's CLI does.
  const exit = err.detail?.exitCode;
  return typeof exit === 'number' ? exit : EXIT_CODES[code];
}
