/** The injected logger remote/ writes to (architecture guide §4.8: level, message, fields). */
export interface Logger {
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void;
}
