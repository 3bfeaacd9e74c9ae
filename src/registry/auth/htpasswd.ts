import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { LadingError } from '../../errors/index.js';

const CACHE_MS = 5 * 60_000;

/**
 * An Apache htpasswd file with bcrypt entries (`user:$2y$...`), as distribution accepts. bcrypt
 * is slow by design, so a verified (user, password) pair is remembered for a few minutes by a
 * hash of it, never the password itself.
 */
export class Htpasswd {
  private readonly verified = new Map<string, number>();
  private constructor(private readonly users: Map<string, string>) {}

  static parse(text: string, source = 'htpasswd'): Htpasswd {
    const users = new Map<string, string>();
    text.split(/\r?\n/).forEach((line, i) => {
      const l = line.trim();
      if (!l || l.startsWith('#')) return;
      const c = l.indexOf(':');
      const user = l.slice(0, c);
      const hash = l.slice(c + 1);
      if (c <= 0 || !/^\$2[abyx]\$\d\d\$/.test(hash)) {
        throw new LadingError('INVALID_ARGUMENT', `${source}:${i + 1}: only bcrypt entries (user:$2y$...) are supported`, { hint: 'create entries with `htpasswd -B` or `lading registry htpasswd`' });
      }
      users.set(user, hash.replace(/^\$2y\$/, '$2b$'));
    });
    return new Htpasswd(users);
  }

  static async load(path: string): Promise<Htpasswd> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      throw new LadingError('INVALID_ARGUMENT', `unable to read htpasswd file ${path}: ${(e as Error).message}`);
    }
    return Htpasswd.parse(text, path);
  }

  /** An htpasswd line for `user` (bcrypt, cost 10 unless given). */
  static entry(user: string, password: string, cost = 10): string {
    if (!user || user.includes(':')) throw new LadingError('INVALID_ARGUMENT', `invalid user name ${JSON.stringify(user)}`);
    return `${user}:${bcrypt.hashSync(password, cost)}`;
  }

  async verify(user: string, password: string, now = Date.now()): Promise<boolean> {
    const hash = this.users.get(user);
    if (!hash) {
      // Spend the same time as a real check, so timing does not tell which users exist.
      await bcrypt.compare(password, '$2b$10$abcdefghijklmnopqrstuuVbvDwK1SmTJLZ1RTDnyqKOm7jGlBOi');
      return false;
    }
    const key = createHash('sha256').update(`${user}\0${password}\0${hash}`).digest('hex');
    const until = this.verified.get(key);
    if (until !== undefined && until > now) return true;
    const ok = await bcrypt.compare(password, hash);
    if (ok) this.verified.set(key, now + CACHE_MS);
    return ok;
  }
}
