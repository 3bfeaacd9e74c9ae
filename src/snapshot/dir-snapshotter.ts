import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LadingError, throwIfAborted } from '../errors/index.js';
import { atomicWrite, fsyncDir } from '../util/index.js';
import type { Mount, PrepareOptions, SnapshotInfo, SnapshotKind, Snapshotter } from './types.js';

interface InfoFile {
  key: string;
  kind: SnapshotKind;
  parent?: string;
  created: string;
  size?: number;
}

/**
 * On-disk state shared by both snapshotters:
 *
 *   <root>/snapshots/<sha256(key)>/info.json   {key, kind, parent, created, size}
 *   <root>/snapshots/<sha256(key)>/fs/         the layer (overlay) or the whole tree (native)
 *   <root>/snapshots/<sha256(key)>/work/       overlay workdir, active overlay snapshots only
 *   <root>/snapshots/.new-*  .trash-*           being created / being removed
 *   <root>/snapshots/.active/<sha256(key)>      one empty marker per active snapshot
 *   <root>/snapshots/.marked                    every active snapshot has its marker
 *
 * A snapshot appears by renaming a fully prepared `.new-*` directory into place and disappears
 * by renaming it to `.trash-*` before deleting, so a crash never leaves a half-made snapshot
 * under a valid name; leftovers are swept by `cleanup()`. The markers let it look at the few
 * active snapshots only (what a killed extraction leaves), not read every committed one: a
 * store of thousands of layers made every pull pay ~30 µs per snapshot.
 */
export abstract class DirSnapshotter implements Snapshotter {
  abstract readonly kind: 'overlay' | 'native';
  abstract readonly whiteouts: 'overlay' | 'delete';
  abstract readonly layersIndependent: boolean;
  protected readonly dir: string;
  private readonly activeDir: string;

  constructor(
    readonly root: string,
    protected readonly asRoot: boolean,
  ) {
    this.dir = join(root, 'snapshots');
    this.activeDir = join(this.dir, '.active');
    mkdirSync(this.dir, { recursive: true });
  }

  protected id(key: string): string {
    return createHash('sha256').update(key).digest('hex');
  }

  protected path(key: string): string {
    return join(this.dir, this.id(key));
  }

  applyDir(key: string): string {
    return join(this.path(key), 'fs');
  }

  /** Fill a freshly made `fs` (and `work`) for a new active snapshot or view. */
  protected abstract populate(snapDir: string, kind: SnapshotKind, parent: string | undefined, o: PrepareOptions): Promise<void>;
  protected abstract mountsFor(info: SnapshotInfo): Promise<Mount[]>;
  protected abstract onCommit(snapDir: string): void;

  private readInfo(snapDir: string): SnapshotInfo | undefined {
    let raw: string;
    try {
      raw = readFileSync(join(snapDir, 'info.json'), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw e;
    }
    const f = JSON.parse(raw) as InfoFile;
    return { key: f.key, kind: f.kind, parent: f.parent, created: new Date(f.created), size: f.size };
  }

  private async writeInfo(snapDir: string, info: SnapshotInfo): Promise<void> {
    const f: InfoFile = { key: info.key, kind: info.kind, created: info.created.toISOString() };
    if (info.parent !== undefined) f.parent = info.parent;
    if (info.size !== undefined) f.size = info.size;
    await atomicWrite(join(snapDir, 'info.json'), JSON.stringify(f));
  }

  async stat(key: string): Promise<SnapshotInfo | undefined> {
    const info = this.readInfo(this.path(key));
    return info?.key === key ? info : undefined;
  }

  protected async get(key: string): Promise<SnapshotInfo> {
    const info = await this.stat(key);
    if (info === undefined) throw new LadingError('NOT_FOUND', `snapshot ${key} does not exist`);
    return info;
  }

  private async create(key: string, kind: SnapshotKind, parent: string | undefined, o: PrepareOptions = {}): Promise<Mount[]> {
    throwIfAborted(o.signal);
    // An independent layer may be extracted before its parent exists; commit checks it then.
    const parentLater = kind === 'active' && o.extract === true && this.layersIndependent;
    if (parent !== undefined && !(parentLater && (await this.stat(parent))?.kind !== 'committed')) await this.committedParent(parent);
    if ((await this.stat(key)) !== undefined) throw new LadingError('ALREADY_EXISTS', `snapshot ${key} already exists`);
    const tmp = join(this.dir, `.new-${randomBytes(8).toString('hex')}`);
    mkdirSync(join(tmp, 'fs'), { recursive: true });
    // Marked before it can appear under its name; the marker goes when it is committed or removed.
    if (kind === 'active') this.mark(key);
    try {
      await this.populate(tmp, kind, parent, o);
      const info: SnapshotInfo = { key, kind, parent, created: new Date() };
      await this.writeInfo(tmp, info);
      try {
        renameSync(tmp, this.path(key));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST' || code === 'ENOTEMPTY') throw new LadingError('ALREADY_EXISTS', `snapshot ${key} already exists`, { cause: e });
        throw e;
      }
      await fsyncDir(this.dir);
      // Extraction writes into applyDir and never mounts: no mounts while the parent is pending.
      if (parent !== undefined && (await this.stat(parent))?.kind !== 'committed') return [];
      return await this.mountsFor(info);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      if (kind === 'active' && (await this.stat(key)) === undefined) this.unmark(key);
      throw e;
    }
  }

  private mark(key: string): void {
    mkdirSync(this.activeDir, { recursive: true });
    writeFileSync(join(this.activeDir, this.id(key)), '');
  }

  private unmark(key: string): void {
    rmSync(join(this.activeDir, this.id(key)), { force: true });
  }

  private async committedParent(parent: string): Promise<void> {
    const p = await this.get(parent);
    if (p.kind !== 'committed') throw new LadingError('INVALID_ARGUMENT', `parent snapshot ${parent} is not committed`);
  }

  prepare(key: string, parent?: string, o?: PrepareOptions): Promise<Mount[]> {
    return this.create(key, 'active', parent, o);
  }

  view(key: string, parent: string, o?: PrepareOptions): Promise<Mount[]> {
    return this.create(key, 'view', parent, o);
  }

  async mounts(key: string): Promise<Mount[]> {
    const info = await this.get(key);
    if (info.kind === 'committed') throw new LadingError('INVALID_ARGUMENT', `snapshot ${key} is committed: mount a view or an active snapshot on top of it`);
    return this.mountsFor(info);
  }

  async commit(name: string, key: string, o: { size?: number; signal?: AbortSignal } = {}): Promise<void> {
    throwIfAborted(o.signal);
    const info = await this.get(key);
    if (info.kind !== 'active') throw new LadingError('INVALID_ARGUMENT', `snapshot ${key} is not active`);
    if (info.parent !== undefined) await this.committedParent(info.parent);
    if ((await this.stat(name)) !== undefined) throw new LadingError('ALREADY_EXISTS', `snapshot ${name} already exists`);
    const from = this.path(key);
    this.onCommit(from);
    // Written before the rename: a crash in between leaves a directory whose info names
    // another key, which stat() ignores and cleanup() sweeps.
    await this.writeInfo(from, { key: name, kind: 'committed', parent: info.parent, created: new Date(), size: o.size });
    try {
      renameSync(from, this.path(name));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      await this.writeInfo(from, info);
      if (code === 'EEXIST' || code === 'ENOTEMPTY') throw new LadingError('ALREADY_EXISTS', `snapshot ${name} already exists`, { cause: e });
      throw e;
    }
    await fsyncDir(this.dir);
    this.unmark(key);
  }

  async remove(key: string): Promise<void> {
    await this.get(key);
    for await (const s of this.walk()) {
      if (s.parent === key) throw new LadingError('CONFLICT', `cannot remove snapshot ${key}: snapshot ${s.key} is based on it`);
    }
    const trash = join(this.dir, `.trash-${randomBytes(8).toString('hex')}`);
    renameSync(this.path(key), trash);
    await fsyncDir(this.dir);
    this.unmark(key);
    rmSync(trash, { recursive: true, force: true });
  }

  detach(key: string): (() => Promise<void>) | undefined {
    const p = this.path(key);
    if (this.readInfo(p)?.key !== key) return undefined;
    const trash = join(this.dir, `.trash-${randomBytes(8).toString('hex')}`);
    renameSync(p, trash);
    this.unmark(key);
    return async () => {
      await fsyncDir(this.dir);
      rmSync(trash, { recursive: true, force: true });
    };
  }

  async usage(key: string): Promise<{ bytes: number; inodes: number }> {
    await this.get(key);
    const seen = new Set<number>();
    let bytes = 0;
    let inodes = 0;
    const walk = (d: string): void => {
      for (const name of readdirSync(d)) {
        const st = lstatSync(`${d}/${name}`);
        if (seen.has(st.ino)) continue;
        seen.add(st.ino);
        inodes++;
        if (st.isFile()) bytes += st.size;
        if (st.isDirectory()) walk(`${d}/${name}`);
      }
    };
    walk(this.applyDir(key));
    return { bytes, inodes };
  }

  async *walk(): AsyncIterable<SnapshotInfo> {
    for (const name of readdirSync(this.dir).sort()) {
      if (name.startsWith('.')) continue;
      const info = this.readInfo(join(this.dir, name));
      if (info !== undefined && this.id(info.key) === name) yield info;
    }
  }

  /** Committed chain of `key`, top first, as directories. */
  async layers(key: string): Promise<string[]> {
    const out: string[] = [];
    let info: SnapshotInfo | undefined = await this.get(key);
    while (info !== undefined) {
      out.push(this.applyDir(info.key));
      if (this.kind === 'native' || info.parent === undefined) break;
      info = await this.get(info.parent);
    }
    return out;
  }

  /**
   * Sweep what a crash left, safe while other processes work in the same root: `.new-*` and
   * `.trash-*` directories older than `graceMs` (they live for seconds), and, among the marked
   * active snapshots, extraction snapshots whose owning process is gone and directories whose
   * info names another key (a commit cut between its two steps). A store from before the markers
   * is swept in full once.
   */
  async cleanup(o: { graceMs?: number; now?: number } = {}): Promise<void> {
    const graceMs = o.graceMs ?? 10 * 60 * 1000;
    const now = o.now ?? Date.now();
    const old = (p: string): boolean => now - (statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? now) > graceMs;
    const names = readdirSync(this.dir);
    // Written by the first full sweep (not by the markers, which a prepare may create first).
    const marked = names.includes(MARKED);
    for (const name of names) {
      const p = join(this.dir, name);
      if (name.startsWith('.new-') || name.startsWith('.trash-')) {
        if (old(p)) rmSync(p, { recursive: true, force: true });
      } else if (!marked && !name.startsWith('.')) {
        this.sweep(p, name, this.readInfo(p), old);
      }
    }
    if (!marked) {
      mkdirSync(this.activeDir, { recursive: true });
      writeFileSync(join(this.dir, MARKED), '');
      return;
    }
    for (const name of readdirSync(this.activeDir)) {
      const p = join(this.dir, name);
      const info = this.readInfo(p);
      // Done with: a swept snapshot, a missing one (gone, or never renamed into place by a prepare
      // long dead), one committed under its own name. A commit caught mid-way keeps its marker.
      const done =
        this.sweep(p, name, info, old) ||
        (info === undefined ? old(join(this.activeDir, name)) : info.kind !== 'active' && this.id(info.key) === name);
      if (done) rmSync(join(this.activeDir, name), { force: true });
    }
  }

  /** Remove the snapshot directory `p` (named `name`, holding `info`) if a crash left it; true when removed. */
  private sweep(p: string, name: string, info: SnapshotInfo | undefined, old: (p: string) => boolean): boolean {
    const leftover =
      info === undefined
        ? old(p) // false for a missing path too
        : this.id(info.key) !== name
          ? old(p) // a live commit passes through this state for an instant; the info write dates the directory
          : info.kind === 'active' && deadExtraction(info.key);
    if (leftover) rmSync(p, { recursive: true, force: true });
    return leftover;
  }
}

/** Present once a store's snapshots are all known through their markers. */
const MARKED = '.marked';

/** Extraction keys are `extract-<pid>-…` (applyLayerSnapshot): such a snapshot outlives only a dead process. */
function deadExtraction(key: string): boolean {
  const m = /^extract-(\d+)-/.exec(key);
  if (!m) return false;
  try {
    process.kill(Number(m[1]), 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
