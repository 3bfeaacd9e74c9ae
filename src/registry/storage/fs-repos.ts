import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isDigest, type Descriptor, type Digest } from '../../oci/index.js';
import { atomicWrite } from '../../util/index.js';
import { list } from './fs-blobs.js';
import { FsPaths, errno } from './fs-paths.js';
import type { ManifestRecord, Page, RepoIndex } from './types.js';

const RESERVED = ['_layers', '_manifests', '_referrers'];

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch (e) {
    if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return false;
    throw e;
  }
}

async function removeFile(p: string): Promise<boolean> {
  try {
    await unlink(p);
    return true;
  } catch (e) {
    if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return false;
    throw e;
  }
}

async function writeFileAtomic(p: string, data: string): Promise<void> {
  await mkdir(dirname(p), { recursive: true });
  await atomicWrite(p, data);
}

function page<T>(sorted: T[], o: { n?: number; last?: T }): Page<T> {
  const from = o.last === undefined ? sorted : sorted.filter((x) => x > o.last!);
  if (o.n === undefined || from.length <= o.n) return { items: from, more: false };
  return { items: from.slice(0, o.n), more: true };
}

const CACHE_LIMIT = 100_000;

/**
 * Repository links, manifests, tags and referrers as small files (layout in fs-paths.ts).
 * Tags and manifest records found on disk are remembered (a manifest GET by tag then touches no
 * file); every change made through this index updates the memory first. One server owns a
 * root: changes made by another process to tags are seen only after a restart.
 */
export class FsRepoIndex implements RepoIndex {
  private readonly tagCache = new Map<string, Digest>();
  private readonly recordCache = new Map<string, ManifestRecord>();
  constructor(private readonly paths: FsPaths) {}

  private remember<T>(m: Map<string, T>, k: string, v: T): void {
    if (m.size >= CACHE_LIMIT) m.clear();
    m.set(k, v);
  }

  async linkBlob(repo: string, d: Digest): Promise<void> {
    const p = this.paths.layerLink(repo, d);
    if (await exists(p)) return;
    await mkdir(dirname(p), { recursive: true });
    // An empty file: its existence is the link. wx + EEXIST makes concurrent links harmless.
    try {
      await (await open(p, 'wx')).close();
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e;
    }
  }

  hasBlobLink(repo: string, d: Digest): Promise<boolean> {
    return exists(this.paths.layerLink(repo, d));
  }

  unlinkBlob(repo: string, d: Digest): Promise<boolean> {
    return removeFile(this.paths.layerLink(repo, d));
  }

  async *listBlobLinks(repo: string): AsyncIterable<Digest> {
    const base = join(this.paths.repo(repo), '_layers');
    for (const algo of await list(base)) {
      for (const hex of await list(join(base, algo))) {
        const d = `${algo}:${hex}`;
        if (isDigest(d)) yield d;
      }
    }
  }

  async putManifest(repo: string, m: ManifestRecord): Promise<void> {
    // Referrer entry first: a crash in between leaves an entry whose revision is missing,
    // which `referrers` skips, never a revision whose referrer is unlisted.
    if (m.subject) {
      const desc: Descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.size };
      if (m.artifactType) desc.artifactType = m.artifactType;
      if (m.annotations && Object.keys(m.annotations).length) desc.annotations = m.annotations;
      await writeFileAtomic(join(this.paths.referrersDir(repo, m.subject), m.digest.replace(':', '-')), JSON.stringify(desc));
    }
    await writeFileAtomic(this.paths.revision(repo, m.digest), JSON.stringify(m));
    this.remember(this.recordCache, `${repo}\0${m.digest}`, m);
  }

  async getManifest(repo: string, d: Digest): Promise<ManifestRecord | undefined> {
    const key = `${repo}\0${d}`;
    const hit = this.recordCache.get(key);
    if (hit) return hit;
    try {
      const rec = JSON.parse(await readFile(this.paths.revision(repo, d), 'utf8')) as ManifestRecord;
      if (rec.digest !== d) return undefined;
      this.remember(this.recordCache, key, rec);
      return rec;
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR' || e instanceof SyntaxError) return undefined;
      throw e;
    }
  }

  async deleteManifest(repo: string, d: Digest): Promise<boolean> {
    const rec = await this.getManifest(repo, d);
    if (!rec) return false;
    // Tags first, then the revision: a crash leaves at worst an untagged revision.
    const tagsDir = this.paths.tagsDir(repo);
    for (const t of await list(tagsDir)) {
      if ((await this.resolveTag(repo, t)) === d) await this.deleteTag(repo, t);
    }
    this.recordCache.delete(`${repo}\0${d}`);
    await removeFile(this.paths.revision(repo, d));
    if (rec.subject) await removeFile(join(this.paths.referrersDir(repo, rec.subject), d.replace(':', '-')));
    return true;
  }

  async *listManifests(repo: string): AsyncIterable<ManifestRecord> {
    const base = join(this.paths.repo(repo), '_manifests', 'revisions');
    for (const algo of await list(base)) {
      for (const hex of await list(join(base, algo))) {
        const d = `${algo}:${hex}`;
        if (!isDigest(d)) continue;
        const rec = await this.getManifest(repo, d);
        if (rec) yield rec;
      }
    }
  }

  async setTag(repo: string, tag: string, d: Digest): Promise<void> {
    this.tagCache.delete(`${repo}\0${tag}`);
    await writeFileAtomic(join(this.paths.tagsDir(repo), tag), d);
    this.remember(this.tagCache, `${repo}\0${tag}`, d);
  }

  async resolveTag(repo: string, tag: string): Promise<Digest | undefined> {
    const key = `${repo}\0${tag}`;
    const hit = this.tagCache.get(key);
    if (hit) return hit;
    try {
      const d = (await readFile(join(this.paths.tagsDir(repo), tag), 'utf8')).trim();
      if (!isDigest(d)) return undefined;
      this.remember(this.tagCache, key, d);
      return d;
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return undefined;
      throw e;
    }
  }

  deleteTag(repo: string, tag: string): Promise<boolean> {
    this.tagCache.delete(`${repo}\0${tag}`);
    return removeFile(join(this.paths.tagsDir(repo), tag));
  }

  async listTags(repo: string, o: { n?: number; last?: string } = {}): Promise<Page<string>> {
    // Temp files of atomic writes start with "."; tags never do.
    const tags = (await list(this.paths.tagsDir(repo))).filter((t) => !t.startsWith('.'));
    return page(tags.sort(), o);
  }

  async referrers(repo: string, subject: Digest): Promise<Descriptor[]> {
    const dir = this.paths.referrersDir(repo, subject);
    const out: Descriptor[] = [];
    for (const name of await list(dir)) {
      if (name.startsWith('.')) continue;
      let desc: Descriptor;
      try {
        desc = JSON.parse(await readFile(join(dir, name), 'utf8')) as Descriptor;
      } catch (e) {
        if (errno(e) === 'ENOENT' || e instanceof SyntaxError) continue;
        throw e;
      }
      if (await exists(this.paths.revision(repo, desc.digest))) out.push(desc);
    }
    return out;
  }

  async repositories(o: { n?: number; last?: string } = {}): Promise<Page<string>> {
    const names: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if (errno(e) === 'ENOENT') return;
        throw e;
      }
      if (prefix && entries.some((e) => e.isDirectory() && (e.name === '_manifests' || e.name === '_layers'))) names.push(prefix);
      for (const e of entries) {
        if (e.isDirectory() && !e.name.startsWith('_') && !e.name.startsWith('.')) await walk(join(dir, e.name), prefix ? `${prefix}/${e.name}` : e.name);
      }
    };
    await walk(this.paths.reposDir, '');
    return page(names.sort(), o);
  }

  async exists(repo: string): Promise<boolean> {
    const base = this.paths.repo(repo);
    return (await exists(join(base, '_manifests'))) || (await exists(join(base, '_layers')));
  }

  async deleteRepository(repo: string): Promise<boolean> {
    if (!(await this.exists(repo))) return false;
    this.tagCache.clear();
    this.recordCache.clear();
    const base = this.paths.repo(repo);
    await mkdir(this.paths.tmpDir, { recursive: true });
    for (const r of RESERVED) {
      const trash = join(this.paths.tmpDir, `repo-${randomBytes(8).toString('hex')}`);
      try {
        await rename(join(base, r), trash);
      } catch (e) {
        if (errno(e) === 'ENOENT') continue;
        throw e;
      }
      await rm(trash, { recursive: true, force: true });
    }
    return true;
  }
}
