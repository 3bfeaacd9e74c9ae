import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import type { Snapshotter } from './types.js';

export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  /** files: byte length and sha256 hex of the content */
  size?: number;
  sha256?: string;
  /** symlinks */
  target?: string;
  /** devices */
  rdev?: number;
  /** the backing path on disk (its inode tells hardlinks apart) */
  source: string;
}

function entry(st: Stats, source: string): TreeEntry {
  const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs, source };
  if (st.isFile()) return { type: 'file', ...base, size: st.size, sha256: createHash('sha256').update(readFileSync(source)).digest('hex') };
  if (st.isDirectory()) return { type: 'dir', ...base };
  if (st.isSymbolicLink()) return { type: 'symlink', ...base, target: readlinkSync(source) };
  if (st.isCharacterDevice()) return { type: 'char', ...base, rdev: st.rdev };
  if (st.isBlockDevice()) return { type: 'block', ...base, rdev: st.rdev };
  if (st.isFIFO()) return { type: 'fifo', ...base };
  return { type: 'socket', ...base };
}

const join = (a: string, b: string): string => (a === '' ? b : `${a}/${b}`);

function walkTree(root: string, rel: string, out: Map<string, TreeEntry>): void {
  const d = rel === '' ? root : `${root}/${rel}`;
  for (const name of readdirSync(d).sort()) {
    const r = join(rel, name);
    const st = lstatSync(`${root}/${r}`);
    out.set(r, entry(st, `${root}/${r}`));
    if (st.isDirectory()) walkTree(root, r, out);
  }
}

function listDirs(root: string, rel: string, out: string[]): void {
  out.push(rel);
  for (const de of readdirSync(rel === '' ? root : `${root}/${rel}`, { withFileTypes: true })) {
    if (de.isDirectory()) listDirs(root, join(rel, de.name), out);
  }
}

const isWhiteout = (st: Stats): boolean => st.isCharacterDevice() && st.rdev === 0;

/**
 * Merge overlay layers (top first) the way overlayfs presents them: the topmost entry wins, a
 * char 0/0 hides the name below, an opaque directory hides everything below it, and a directory
 * merges only with directories of the same name until a non-directory or whiteout intervenes.
 */
async function mergeOverlay(layers: readonly string[]): Promise<Map<string, TreeEntry>> {
  // Loaded on use: the tar stack is not needed by commands that never read layers.
  const { readOpaqueDirs } = await import('../archive/index.js');
  const opaque = await Promise.all(
    layers.map((l) => {
      const dirs: string[] = [];
      listDirs(l, '', dirs);
      return readOpaqueDirs(l, dirs);
    }),
  );
  const out = new Map<string, TreeEntry>();
  const visit = (rel: string, stack: number[]): void => {
    const cut = stack.findIndex((li) => opaque[li]!.has(rel));
    const layersHere = cut < 0 ? stack : stack.slice(0, cut + 1);
    const seen = new Map<string, { li: number; st: Stats }>();
    const hidden = new Set<string>();
    for (const li of layersHere) {
      const d = rel === '' ? layers[li]! : `${layers[li]!}/${rel}`;
      for (const name of readdirSync(d)) {
        if (seen.has(name) || hidden.has(name)) continue;
        const st = lstatSync(`${d}/${name}`);
        if (isWhiteout(st)) hidden.add(name);
        else seen.set(name, { li, st });
      }
    }
    for (const name of [...seen.keys()].sort()) {
      const { li, st } = seen.get(name)!;
      const r = join(rel, name);
      out.set(r, entry(st, `${layers[li]!}/${r}`));
      if (!st.isDirectory()) continue;
      const child = [li];
      for (const lj of layersHere) {
        if (lj <= li) continue;
        let cst: Stats;
        try {
          cst = lstatSync(`${layers[lj]!}/${r}`);
        } catch {
          continue; // absent in this layer: look further down
        }
        if (!cst.isDirectory()) break; // a file or whiteout hides everything below
        child.push(lj);
      }
      visit(r, child);
    }
  };
  visit('', layers.map((_, i) => i));
  return out;
}

/**
 * The filesystem a snapshot presents, path -> entry (paths relative, sorted), computed without
 * mounting: for tests, and later for export.
 */
export async function readMergedTree(sn: Snapshotter, key: string): Promise<Map<string, TreeEntry>> {
  const layers = await sn.layers(key);
  if (sn.kind === 'native') {
    const out = new Map<string, TreeEntry>();
    walkTree(layers[0]!, '', out);
    return out;
  }
  return mergeOverlay(layers);
}
