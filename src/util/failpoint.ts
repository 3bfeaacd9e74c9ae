import { LadingError } from '../errors/index.js';

/**
 * Crash and error injection for crash-consistency tests (containerd internal/failpoint).
 * `LADING_FAILPOINT` holds comma-separated `name:action` pairs; `crash` kills the process with
 * SIGKILL on the spot (no cleanup, no finally blocks, like a power cut), `error` throws INTERNAL.
 * Unset in production, so a call costs one environment lookup.
 */
export function failpoint(name: string, env: NodeJS.ProcessEnv = process.env): void {
  const spec = env['LADING_FAILPOINT'];
  if (!spec) return;
  for (const item of spec.split(',')) {
    const i = item.lastIndexOf(':');
    if (i < 0 || item.slice(0, i).trim() !== name) continue;
    const action = item.slice(i + 1).trim();
    if (action === 'crash') {
      process.kill(process.pid, 'SIGKILL');
      // SIGKILL is delivered before kill() returns on Linux; never continue past a crash point.
      throw new LadingError('INTERNAL', 'failpoint', { detail: { failpoint: name } });
    }
    if (action === 'error') throw new LadingError('INTERNAL', 'failpoint', { detail: { failpoint: name } });
    throw new LadingError('INTERNAL', `unknown failpoint action ${JSON.stringify(action)}`, { detail: { failpoint: name } });
  }
}
