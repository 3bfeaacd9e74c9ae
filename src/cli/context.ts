import type { Io } from './output.js';
import type { EngineHandle } from './main.js';

export interface CommandContext {
  io: Io;
  engine: EngineHandle;
  signal: AbortSignal;
}
