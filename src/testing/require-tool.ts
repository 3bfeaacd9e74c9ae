import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** Find an executable on PATH, or fail loudly with the install hint: interop tests never skip silently. */
export async function requireTool(name: string, installHint: string): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  throw new Error(`${name} is not installed: ${installHint} (.ci/run installs it)`);
}
