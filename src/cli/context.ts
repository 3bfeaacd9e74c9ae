import type { Io } from './output.js';
import type { EngineHandle } from './main.js';

export interface CommandContext {
  io: Io;
  engine: EngineHandle;
  signal: AbortSignal;
  /** Set by a command that reported its own failures (rmi of several images): the process exit code. */
  exitCode?: number;
}
