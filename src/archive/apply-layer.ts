import { createHash } from 'node:crypto';
import {
  closeSync,
  constants as fsc,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  chmodSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Header } from 'tar-stream';
import { LadingError, throwIfAborted } from '../errors/index.js';
import type { Digest } from '../oci/index.js';
import { tarStream } from '../util/index.js';
import { cleanName, lstatQuiet, RootResolver } from './root-path.js';
import { createSpecialNodes, type SpecialNode } from './special-nodes.js';

export interface ApplyLayerOptions {
  /** Apply owners, setuid/setgid bits and device nodes (needs root). */
  asRoot: boolean;
  /**
   * 'delete': `dir` is a merged tree (native snapshots); whiteouts remove lower content.
   * 'overlay': `dir` holds this layer alone (an overlayfs layer); whiteouts become char 0/0
   * nodes and opaque directories get trusted.overlay.opaque=y.
   */
  whiteouts: 'overlay' | 'delete';
  signal?: AbortSignal | undefined;
  /** Uncompressed tar bytes consumed so far (cumulative). */
  onProgress?: ((bytes: number) => void) | undefined;
}

export interface ApplyLayerResult {
  /** sha256 of the uncompressed tar stream, trailing blocks included: the layer's diffID. */
  diffId: Digest;
  /** uncompressed tar bytes */
  bytes: number;
  /** sum of the sizes of the regular files written (hardlinks not counted twice) */
  size: number;
}

/**
 * Apply one uncompressed layer tar to `dir`, hashing the stream as it goes into the parser.
 *
 * Safety: every name is cleaned lexically ('..' cannot climb above `dir`, absolute names are
 * taken relative to it) and its parent is resolved with symlinks followed as if `dir` were '/'
 * (containerd's fs.RootPath), so no entry is ever written outside `dir`; the entry itself is
 * never followed (existing files are unlinked first, which also keeps inodes shared with other
 * snapshots through hardlinks untouched).
 *
 * Speed: entries are applied one at a time with synchronous fs calls, file bodies written chunk
 * by chunk as the parser hands them over (nothing buffered; backpressure is the parser waiting
 * for us). Measured on 25k small files (tmpfs, 2 vCPU): sync calls ~0.65-1.2 s, the same with
 * fs.promises awaited per call ~5 s, callback jobs 16 in flight ~1.8 s. Each call blocks the
 * event loop for one syscall only, so concurrent downloads keep flowing between them.
 */
export async function applyLayer(dir: string, tar: Readable, o: ApplyLayerOptions): Promise<ApplyLayerResult> {
  throwIfAborted(o.signal);
  const root = resolvePath(dir);
  if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) {
    throw new LadingError('NOT_FOUND', `apply layer: ${root}: no such directory`);
  }
  const applier = new LayerApplier(root, o);
  const hash = createHash('sha256');
  let bytes = 0;
  const hasher = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      o.onProgress?.(bytes);
      cb(null, chunk);
    },
  });
  const ex = tarStream().extract();
  ex.on('entry', (h, stream, next) => {
    applier.entry(h as PaxHeaders, stream as unknown as EntryBody).then(
      () => next(),
      (e: unknown) => {
        // The parser destroys the entry's unread body with this error too: without a listener
        // that would be an uncaught exception (and kill a worker thread).
        stream.on('error', () => {});
        next(e as Error);
      },
    );
  });
  try {
    // tar-stream's extract is a streamx Writable, which node's pipeline drives like its own.
    await pipeline(tar, hasher, ex as unknown as Writable, { signal: o.signal } as { signal: AbortSignal });
    await applier.finish();
  } catch (e) {
    applier.cleanup();
    throw toLadingError(e, o.signal);
  }
  return { diffId: `sha256:${hash.digest('hex')}` as Digest, bytes, size: applier.size };
}

function toLadingError(e: unknown, signal: AbortSignal | undefined): LadingError {
  if (e instanceof LadingError) return e;
  const err = e as NodeJS.ErrnoException;
  if (err?.name === 'AbortError' || signal?.aborted) {
    return new LadingError('CANCELED', 'operation canceled', { cause: signal?.reason ?? e });
  }
  const msg = String(err?.message ?? e);
  // tar-stream's wording -> Go archive/tar's, which is what Docker prints.
  if (msg === 'Unexpected end of data') return new LadingError('INVALID_ARGUMENT', 'unexpected EOF', { cause: e });
  if (msg.startsWith('Invalid tar header') || msg === 'Header exceeds max size') {
    return new LadingError('INVALID_ARGUMENT', 'archive/tar: invalid tar header', { cause: e });
  }
  return new LadingError('INTERNAL', `failed to apply layer: ${msg}`, { cause: e });
}

/**
 * The process umask, read from /proc without changing it (process.umask() sets it to 0 and back,
 * a race with other threads creating files); undefined where unreadable, then files get fchmod.
 */
const UMASK = ((): number | undefined => {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number.parseInt(m[1]!, 8) : undefined;
  } catch {
    return undefined;
  }
})();

/** Whether creating with `mode` yields exactly `mode`: no special bits, none the umask clears. */
function createsExactly(mode: number): boolean {
  return UMASK !== undefined && (mode & ~0o777) === 0 && (mode & UMASK) === 0;
}

const OPEN_NEW = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;
const WH_PREFIX = '.wh.';
const WH_META_PREFIX = '.wh..wh.';
const WH_OPAQUE = '.wh..wh..opq';

interface DirMeta {
  mode: number;
  /** false when the directory was created with `mode` already */
  chmod: boolean;
  atime: Date;
  mtime: Date;
}

interface PendingNode extends SpecialNode {
  whiteout: boolean;
}

type PaxHeaders = Omit<Header, 'type' | 'pax'> & { type: Header['type'] | null; pax?: Record<string, string> | null };

/** The parts of tar-stream's entry stream (a streamx Readable) that we use. */
interface EntryBody {
  on(event: 'data', fn: (chunk: Buffer) => void): unknown;
  on(event: 'end', fn: () => void): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
  resume(): unknown;
  destroy(err?: Error): unknown;
}

function paxTime(pax: Record<string, string> | null | undefined, key: string): Date | undefined {
  const v = pax?.[key];
  if (v === undefined) return undefined;
  const s = Number.parseFloat(v);
  return Number.isFinite(s) ? new Date(s * 1000) : undefined;
}

function drain(stream: EntryBody, size: number): Promise<void> {
  if (!(size > 0)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('error', reject);
    stream.resume();
  });
}

function join(parent: string, base: string): string {
  return parent === '' ? base : `${parent}/${base}`;
}

function under(path: string, dir: string): boolean {
  return path === dir || dir === '' || path.startsWith(`${dir}/`);
}

class LayerApplier {
  size = 0;
  private readonly rr: RootResolver;
  private readonly overlay: boolean;
  private readonly myUid = process.getuid?.() ?? 0;
  private readonly myGid = process.getgid?.() ?? 0;
  /** paths written by this layer (whiteouts in 'delete' mode spare them) */
  private readonly written = new Set<string>();
  /** strict ancestors of written paths */
  private readonly ancestors = new Set<string>();
  /** directory modes and times, applied last: a later entry inside would change the mtime */
  private readonly dirMeta = new Map<string, DirMeta>();
  private readonly pendingNodes = new Map<string, PendingNode>();
  private readonly pendingOpaque = new Set<string>();
  private fd: number | undefined;

  constructor(
    readonly root: string,
    private readonly o: ApplyLayerOptions,
  ) {
    this.rr = new RootResolver(root);
    this.overlay = o.whiteouts === 'overlay';
  }

  private abs(rel: string): string {
    return this.rr.abs(rel);
  }

  async entry(h: PaxHeaders, stream: EntryBody): Promise<void> {
    throwIfAborted(this.o.signal);
    const size = h.size ?? 0;
    const parts = cleanName(h.name);
    const base = parts[parts.length - 1];
    // The root itself ('./', '/', a symlink named '..'): its metadata belongs to the snapshot.
    if (base === undefined) return drain(stream, size);
    // Docker 20.10 writes some whiteouts as regular files with a leftover linkname, or as
    // hardlinks: the name decides, whatever the type.
    if (base.startsWith(WH_PREFIX)) {
      await drain(stream, size);
      return this.whiteout(h, parts, base);
    }
    switch (h.type) {
      case 'file':
      case 'contiguous-file':
        return this.file(h, parts, stream);
      case 'directory':
        await this.directory(h, parts);
        return drain(stream, size);
      case 'symlink':
        await this.symlink(h, parts);
        return drain(stream, size);
      case 'link':
        await this.hardlink(h, parts);
        return drain(stream, size);
      case 'character-device':
      case 'block-device':
      case 'fifo':
        await this.node(h, parts);
        return drain(stream, size);
      default:
        throw new LadingError('UNSUPPORTED', `unhandled tar header type ${String(h.type)} for ${JSON.stringify(h.name)}`);
    }
  }

  private times(h: PaxHeaders): { atime: Date; mtime: Date } {
    const mtime = paxTime(h.pax, 'mtime') ?? h.mtime ?? new Date(0);
    return { atime: paxTime(h.pax, 'atime') ?? mtime, mtime };
  }

  private mode(h: PaxHeaders): number {
    // setuid/setgid only when we can also set the owner they refer to.
    return (h.mode ?? 0o644) & (this.o.asRoot ? 0o7777 : 0o1777);
  }

  private chownNeeded(h: PaxHeaders): boolean {
    return this.o.asRoot && ((h.uid ?? 0) !== this.myUid || (h.gid ?? 0) !== this.myGid);
  }

  private markWritten(rel: string): void {
    // Only 'delete' whiteouts ask what this layer wrote; an overlay layer holds nothing else.
    if (this.overlay) return;
    this.written.add(rel);
    for (let i = rel.lastIndexOf('/'); i > 0; i = rel.lastIndexOf('/', i - 1)) {
      const a = rel.slice(0, i);
      if (this.ancestors.has(a)) break;
      this.ancestors.add(a);
    }
  }

  private touched(rel: string): boolean {
    return this.written.has(rel) || this.ancestors.has(rel);
  }

  /**
   * Resolve the parent of an entry inside the root and make sure it exists as a real
   * directory, creating missing components (0755, like Docker's implicit parents).
   */
  private async parentForWrite(h: PaxHeaders, parts: readonly string[]): Promise<string> {
    let parent = this.rr.resolveDir(parts.slice(0, -1));
    if (this.pendingNodes.size > 0 && parent !== '') {
      let flush = false;
      for (let i = parent.indexOf('/'); ; i = parent.indexOf('/', i + 1)) {
        const p = i < 0 ? parent : parent.slice(0, i);
        const n = this.pendingNodes.get(p);
        if (n !== undefined) {
          if (n.whiteout) {
            // This layer puts content under a path it also whites out: the directory is new
            // in this layer and hides the lower one, which overlayfs spells "opaque".
            this.pendingNodes.delete(p);
            this.pendingOpaque.add(p);
          } else {
            flush = true;
          }
        }
        if (i < 0) break;
      }
      if (flush) {
        await this.flush();
        parent = this.rr.resolveDir(parts.slice(0, -1));
      }
    }
    if (this.rr.isKnownDir(parent)) return parent;
    for (let i = parent.indexOf('/'); ; i = parent.indexOf('/', i + 1)) {
      const p = i < 0 ? parent : parent.slice(0, i);
      if (!this.rr.isKnownDir(p)) {
        const st = lstatQuiet(this.abs(p));
        if (st === undefined) {
          mkdirSync(this.abs(p), 0o755);
        } else if (!st.isDirectory()) {
          throw new LadingError('INVALID_ARGUMENT', `invalid tar entry ${JSON.stringify(h.name)}: ${JSON.stringify(p)} is not a directory`);
        }
        this.rr.noteDir(p);
      }
      if (i < 0) break;
    }
    return parent;
  }

  /** Forget everything recorded at or below `rel`, which was just removed. */
  private forgetUnder(rel: string): void {
    this.rr.invalidate();
    for (const k of this.dirMeta.keys()) if (under(k, rel)) this.dirMeta.delete(k);
    for (const k of this.pendingNodes.keys()) if (under(k, rel)) this.pendingNodes.delete(k);
    for (const k of this.pendingOpaque) if (under(k, rel)) this.pendingOpaque.delete(k);
  }

  /** Remove whatever is at `rel` (never following it). Returns true when it was a directory and `keepDir`. */
  private removeExisting(rel: string, keepDir: boolean): boolean {
    const st = lstatQuiet(this.abs(rel));
    if (st === undefined) return false;
    if (st.isDirectory()) {
      if (keepDir) return true;
      rmSync(this.abs(rel), { recursive: true, force: true });
      this.forgetUnder(rel);
      return false;
    }
    unlinkSync(this.abs(rel));
    if (st.isSymbolicLink()) this.rr.invalidate();
    return false;
  }

  /** A pending (not yet created) node at `rel` is replaced by the entry being applied. */
  private takePending(rel: string): PendingNode | undefined {
    if (this.pendingNodes.size === 0) return undefined;
    const n = this.pendingNodes.get(rel);
    if (n !== undefined) this.pendingNodes.delete(rel);
    return n;
  }

  private async file(h: PaxHeaders, parts: readonly string[], stream: EntryBody): Promise<void> {
    const parent = await this.parentForWrite(h, parts);
    const rel = join(parent, parts[parts.length - 1]!);
    const abs = this.abs(rel);
    this.takePending(rel);
    const mode = this.mode(h);
    // Created with its final permissions when the umask cannot have changed them: one fchmod
    // fewer per file (a node_modules layer has tens of thousands).
    const exact = createsExactly(mode);
    const createMode = exact ? mode : 0o600;
    let fd: number;
    try {
      fd = openSync(abs, OPEN_NEW, createMode);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      this.removeExisting(rel, false);
      fd = openSync(abs, OPEN_NEW, createMode);
    }
    this.fd = fd;
    try {
      if ((h.size ?? 0) > 0) {
        await new Promise<void>((resolve, reject) => {
          stream.on('data', (c: Buffer) => {
            try {
              for (let off = 0; off < c.length; ) off += writeSync(fd, c, off, c.length - off);
            } catch (e) {
              reject(e);
              stream.destroy(e as Error);
            }
          });
          stream.on('end', resolve);
          stream.on('error', reject);
        });
      }
      // chown clears setuid/setgid, so it goes first; fchmod also undoes the umask.
      if (this.chownNeeded(h)) fchownSync(fd, h.uid ?? 0, h.gid ?? 0);
      if (!exact) fchmodSync(fd, mode);
      const t = this.times(h);
      futimesSync(fd, t.atime, t.mtime);
    } finally {
      this.fd = undefined;
      closeSync(fd);
    }
    this.size += h.size ?? 0;
    this.markWritten(rel);
  }

  private async directory(h: PaxHeaders, parts: readonly string[]): Promise<void> {
    const parent = await this.parentForWrite(h, parts);
    const rel = join(parent, parts[parts.length - 1]!);
    const abs = this.abs(rel);
    const pending = this.takePending(rel);
    const mode = this.mode(h);
    // Root writes inside whatever the mode, so a new directory gets its final mode at once when
    // the umask cannot change it (one chmod fewer in finish(); a node_modules tree has thousands).
    // Otherwise 0700 until finish(), so that we can write inside.
    const exact = this.myUid === 0 && createsExactly(mode);
    const createMode = exact ? mode : 0o700;
    // Most directories are new: try mkdir first and look at what is there only when it fails.
    let made = false;
    let merged = false;
    try {
      mkdirSync(abs, createMode);
      made = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (!made) {
      merged = pending === undefined && this.removeExisting(rel, true);
      if (!merged) mkdirSync(abs, createMode);
      else if (!this.o.asRoot) chmodSync(abs, 0o700); // we must be able to write inside until finish()
    }
    // Its children resolve their parent through the cache, not by walking the path again.
    this.rr.noteDir(rel, parts.join('/'));
    if (pending?.whiteout === true) this.pendingOpaque.add(rel);
    // A directory we merge into may belong to someone else; a new one is ours already.
    if (this.o.asRoot && (merged || this.chownNeeded(h))) lchownSync(abs, h.uid ?? 0, h.gid ?? 0);
    this.dirMeta.set(rel, { mode, chmod: merged || !exact, ...this.times(h) });
    this.markWritten(rel);
  }

  private async symlink(h: PaxHeaders, parts: readonly string[]): Promise<void> {
    if (!h.linkname) throw new LadingError('INVALID_ARGUMENT', `invalid tar entry ${JSON.stringify(h.name)}: empty symlink target`);
    const parent = await this.parentForWrite(h, parts);
    const rel = join(parent, parts[parts.length - 1]!);
    const abs = this.abs(rel);
    if (this.takePending(rel) === undefined) this.removeExisting(rel, false);
    // The target is stored verbatim: a symlink pointing outside is legal in an image; it is
    // never followed out of the root because every later path is resolved root-bounded.
    symlinkSync(h.linkname, abs);
    if (this.chownNeeded(h)) lchownSync(abs, h.uid ?? 0, h.gid ?? 0);
    const t = this.times(h);
    lutimesSync(abs, t.atime, t.mtime);
    this.markWritten(rel);
  }

  private async hardlink(h: PaxHeaders, parts: readonly string[]): Promise<void> {
    const tparts = cleanName(h.linkname ?? '');
    const tbase = tparts[tparts.length - 1];
    if (tbase === undefined) {
      throw new LadingError('INVALID_ARGUMENT', `invalid tar entry ${JSON.stringify(h.name)}: invalid hardlink target ${JSON.stringify(h.linkname ?? '')}`);
    }
    // Like containerd's hardlinkRootPath: parents resolved inside the root, the last component
    // not followed, so a link to a symlink links the symlink itself.
    let target = join(this.rr.resolveDir(tparts.slice(0, -1)), tbase);
    const pendingTarget = this.pendingNodes.get(target);
    if (pendingTarget !== undefined && !pendingTarget.whiteout) await this.flush();
    const st = pendingTarget?.whiteout === true ? undefined : lstatQuiet(this.abs(target));
    if (st === undefined) {
      throw new LadingError('INVALID_ARGUMENT', `invalid tar entry ${JSON.stringify(h.name)}: hardlink target ${JSON.stringify(h.linkname)} does not exist`);
    }
    if (st.isDirectory()) {
      throw new LadingError('INVALID_ARGUMENT', `invalid tar entry ${JSON.stringify(h.name)}: hardlink target ${JSON.stringify(h.linkname)} is a directory`);
    }
    const parent = await this.parentForWrite(h, parts);
    const rel = join(parent, parts[parts.length - 1]!);
    // Creating the parent cannot move the target, but resolve again in case the cache changed.
    target = join(this.rr.resolveDir(tparts.slice(0, -1)), tbase);
    if (target === rel) {
      this.markWritten(rel);
      return;
    }
    if (this.takePending(rel) === undefined) this.removeExisting(rel, false);
    linkSync(this.abs(target), this.abs(rel));
    this.markWritten(rel);
  }

  private async node(h: PaxHeaders, parts: readonly string[]): Promise<void> {
    const kind = h.type === 'character-device' ? 'char' : h.type === 'block-device' ? 'block' : 'fifo';
    if (kind !== 'fifo' && !this.o.asRoot) return; // mknod needs CAP_MKNOD: skipped, like rootless engines do
    const parent = await this.parentForWrite(h, parts);
    const rel = join(parent, parts[parts.length - 1]!);
    if (this.takePending(rel) === undefined) this.removeExisting(rel, false);
    this.pendingNodes.set(rel, {
      path: rel,
      kind,
      major: h.devmajor ?? 0,
      minor: h.devminor ?? 0,
      mode: this.mode(h),
      uid: this.o.asRoot ? (h.uid ?? 0) : this.myUid,
      gid: this.o.asRoot ? (h.gid ?? 0) : this.myGid,
      mtime: this.times(h).mtime,
      whiteout: false,
    });
    this.markWritten(rel);
  }

  private async whiteout(h: PaxHeaders, parts: readonly string[], base: string): Promise<void> {
    const opaque = base === WH_OPAQUE;
    if (!opaque && base.startsWith(WH_META_PREFIX)) return; // other AUFS metadata (.wh..wh.plnk): ignored, as Docker does
    const name = base.slice(WH_PREFIX.length);
    if (!opaque && (name === '' || name === '.' || name === '..')) {
      throw new LadingError('INVALID_ARGUMENT', `invalid tar entry ${JSON.stringify(h.name)}: invalid whiteout name`);
    }
    if (!this.overlay) {
      const parent = this.rr.resolveDir(parts.slice(0, -1));
      if (parent !== '' && lstatQuiet(this.abs(parent))?.isDirectory() !== true) return; // nothing below to hide
      if (opaque) {
        for (const c of readdirSync(this.abs(parent))) this.clearLower(join(parent, c));
      } else {
        this.clearLower(join(parent, name));
      }
      return;
    }
    if (!this.o.asRoot) {
      throw new LadingError('UNSUPPORTED', 'overlay whiteouts need root (a 0/0 character device and trusted.overlay.* xattrs)', {
        hint: 'use the native snapshotter when not running as root',
      });
    }
    const parent = await this.parentForWrite(h, parts);
    if (opaque) {
      this.pendingOpaque.add(parent);
      return;
    }
    const rel = join(parent, name);
    if (this.pendingNodes.has(rel)) return; // already whited out, or a node of this layer, which wins
    const st = lstatQuiet(this.abs(rel));
    if (st?.isDirectory()) {
      this.pendingOpaque.add(rel); // this layer's own directory hides the lower one
    } else if (st === undefined) {
      const t = this.times(h);
      this.pendingNodes.set(rel, { path: rel, kind: 'char', major: 0, minor: 0, mode: 0, uid: 0, gid: 0, mtime: t.mtime, whiteout: true });
    }
    // an existing non-directory was written by this layer and already hides the lower path
  }

  /**
   * 'delete' mode: remove what lower layers put at `rel`, sparing what this layer wrote
   * (the OCI spec: a whiteout applies to lower layers only). Never follows `rel` itself.
   */
  private clearLower(rel: string): void {
    if (!this.touched(rel)) {
      this.removeExisting(rel, false);
      return;
    }
    if (lstatQuiet(this.abs(rel))?.isDirectory() === true) {
      for (const c of readdirSync(this.abs(rel))) this.clearLower(join(rel, c));
    }
  }

  /** Create pending nodes and opaque markers, after checking their parents are real directories. */
  private async flush(): Promise<void> {
    if (this.pendingNodes.size === 0 && this.pendingOpaque.size === 0) return;
    const nodes = [...this.pendingNodes.values()];
    const opaque = [...this.pendingOpaque];
    for (const n of nodes) {
      const i = n.path.lastIndexOf('/');
      const parent = i < 0 ? '' : n.path.slice(0, i);
      if (this.rr.resolve(parent === '' ? [] : parent.split('/')) !== parent) {
        throw new LadingError('INTERNAL', `apply layer: parent of ${JSON.stringify(n.path)} is no longer a directory`);
      }
    }
    for (const d of opaque) {
      if (d !== '' && (this.rr.resolve(d.split('/')) !== d || lstatQuiet(this.abs(d))?.isDirectory() !== true)) {
        throw new LadingError('INTERNAL', `apply layer: opaque ${JSON.stringify(d)} is not a directory`);
      }
    }
    this.pendingNodes.clear();
    this.pendingOpaque.clear();
    await createSpecialNodes(this.root, nodes, opaque, { signal: this.o.signal });
    this.rr.invalidate();
  }

  async finish(): Promise<void> {
    await this.flush();
    // Deepest first (entries come parents-first), though utimes of a child leaves the parent be.
    const dirs = [...this.dirMeta].reverse();
    for (const [rel, m] of dirs) {
      // A directory still in the resolver's cache is known to be there, real, at this path.
      if (!this.rr.isKnownDir(rel)) {
        if (this.rr.resolve(rel.split('/')) !== rel) continue; // replaced by something else since
        if (lstatQuiet(this.abs(rel))?.isDirectory() !== true) continue;
      }
      if (m.chmod) chmodSync(this.abs(rel), m.mode);
      utimesSync(this.abs(rel), m.atime, m.mtime);
    }
  }

  /** Close a file left open by an error. The caller removes the half-applied directory. */
  cleanup(): void {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
      this.fd = undefined;
    }
  }
}
