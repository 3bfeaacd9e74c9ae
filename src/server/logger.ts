import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * A pino logger writing JSON lines to `destination` (stdout by default). Authorization headers
 * and credentials never reach it: the request log records route, status, sizes and timing only.
 */
export function createLogger(o: { level?: LevelWithSilent; destination?: NodeJS.WritableStream; name?: string } = {}): Logger {
  return pino(
    { level: o.level ?? 'info', base: o.name ? { name: o.name } : null, timestamp: pino.stdTimeFunctions.isoTime },
    (o.destination as Parameters<typeof pino>[1]) ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** A logger that drops everything (the library default). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
