import { PassThrough } from 'node:stream';

export interface CapturedIo {
  stdout: { write(s: string): void; isTTY?: boolean; columns?: number };
  stderr: { write(s: string): void };
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  now(): number;
  out(): string;
  err(): string;
}

/** An Io for running CLI commands in-process and asserting their exact output. */
export function captureIo(o: { env?: NodeJS.ProcessEnv; now?: () => number; stdin?: string; tty?: boolean; columns?: number } = {}): CapturedIo {
  let out = '';
  let err = '';
  const stdin = new PassThrough();
  stdin.end(o.stdin ?? '');
  return {
    stdout: { write: (s) => void (out += s), isTTY: o.tty ?? false, columns: o.columns ?? 80 },
    stderr: { write: (s) => void (err += s) },
    stdin,
    env: o.env ?? { ...process.env },
    now: o.now ?? (() => Date.now()),
    out: () => out,
    err: () => err,
  };
}
