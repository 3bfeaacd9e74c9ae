import { createHash } from 'node:crypto';
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWrite } from '../util/index.js';

/** Where an unfinished blob upload stands: its upload URL and the offset that URL was issued at. */
export interface UploadState {
  url: string;
  offset: number;
  updatedAt: number;
}

/** Remembers unfinished uploads per (registry, repository, digest) so a later push can resume them. */
export interface UploadStates {
  get(key: UploadKey): Promise<UploadState | undefined>;
  set(key: UploadKey, s: UploadState): Promise<void>;
  delete(key: UploadKey): Promise<void>;
}

export interface UploadKey {
  registry: string;
  repository: string;
  digest: string;
}

/**
 * One small JSON file per upload under `dir` (the engine passes a directory under the store root),
 * written atomically. A file per key means concurrent layer uploads, and concurrent pushes in other
 * processes, never clobber each other's entries.
 */
export class FileUploadStates implements UploadStates {
  constructor(private readonly dir: string) {}

  private path(k: UploadKey): string {
    const h = createHash('sha256').update(`${k.registry}\n${k.repository}\n${k.digest}`).digest('hex');
    return join(this.dir, `${h}.json`);
  }

  async get(k: UploadKey): Promise<UploadState | undefined> {
    let text: string;
    try {
      text = await readFile(this.path(k), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const v = JSON.parse(text) as Partial<UploadState> & { key?: UploadKey };
      if (typeof v.url !== 'string' || !Number.isSafeInteger(v.offset) || (v.offset ?? -1) < 0) return undefined;
      // A hash collision is absurd, but a torn or foreign file must not send bytes to the wrong upload.
      if (v.key?.registry !== k.registry || v.key.repository !== k.repository || v.key.digest !== k.digest) return undefined;
      return { url: v.url, offset: v.offset!, updatedAt: typeof v.updatedAt === 'number' ? v.updatedAt : 0 };
    } catch {
      return undefined;
    }
  }

  async set(k: UploadKey, s: UploadState): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await atomicWrite(this.path(k), JSON.stringify({ key: k, ...s }), 0o600);
  }

  async delete(k: UploadKey): Promise<void> {
    await unlink(this.path(k)).catch(() => {});
  }
}

/** In-memory states, for library users that do not want resume across processes. */
export class MemoryUploadStates implements UploadStates {
  private readonly m = new Map<string, UploadState>();
  private key(k: UploadKey): string {
    return `${k.registry}\n${k.repository}\n${k.digest}`;
  }
  get(k: UploadKey): Promise<UploadState | undefined> {
    return Promise.resolve(this.m.get(this.key(k)));
  }
  set(k: UploadKey, s: UploadState): Promise<void> {
    this.m.set(this.key(k), s);
    return Promise.resolve();
  }
  delete(k: UploadKey): Promise<void> {
    this.m.delete(this.key(k));
    return Promise.resolve();
  }
}
