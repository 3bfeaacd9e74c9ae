// Property tests: random layer stacks applied with whiteouts:'delete' match an in-memory model
// filesystem; no generated entry or symlink chain ever writes outside the root.
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { LadingError } from '../errors/index.js';
import { dir, file, hardlink, opaque, symlink, tarLayer, whiteout, raw, type TarEntry } from '../testing/index.js';
import { applyLayer } from './apply-layer.js';
import { cleanName } from './root-path.js';

const temps: string[] = [];
after(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'lading-prop-'));
  temps.push(d);
  return d;
}

// ---- the model -------------------------------------------------------------------------

type Node = { t: 'file'; content: string; mode: number } | { t: 'dir'; mode: number } | { t: 'symlink'; target: string };

class ModelError extends Error {}

class Model {
  fs = new Map<string, Node>();
  private written = new Set<string>();
  private ancestors = new Set<string>();

  private parentOf(p: string): string {
    const i = p.lastIndexOf('/');
    return i < 0 ? '' : p.slice(0, i);
  }
  private isDir(p: string): boolean {
    return p === '' || this.fs.get(p)?.t === 'dir';
  }

  resolve(parts: readonly string[], followLast = true): string {
    const out: string[] = [];
    const q = [...parts];
    let links = 0;
    while (q.length > 0) {
      const c = q.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        out.pop();
        continue;
      }
      if (q.length === 0 && !followLast) {
        out.push(c);
        break;
      }
      const cand = [...out, c].join('/');
      const n = this.fs.get(cand);
      // a path under a non-directory does not exist: lstat fails with ENOTDIR
      const reachable = out.length === 0 || this.isDir(out.join('/'));
      if (reachable && n?.t === 'symlink') {
        if (++links > 255) throw new ModelError('loop');
        if (n.target.startsWith('/')) out.length = 0;
        q.unshift(...n.target.split('/'));
        continue;
      }
      out.push(c);
    }
    return out.join('/');
  }

  private removeAt(p: string): void {
    for (const k of [...this.fs.keys()]) if (k === p || k.startsWith(`${p}/`)) this.fs.delete(k);
  }
  private mark(p: string): void {
    this.written.add(p);
    for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) this.ancestors.add(p.slice(0, i));
  }
  private ensureParent(parent: string): void {
    if (parent === '') return;
    const parts = parent.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      const n = this.fs.get(p);
      if (n === undefined) this.fs.set(p, { t: 'dir', mode: 0o755 });
      else if (n.t !== 'dir') throw new ModelError('not a directory');
    }
  }
  private clearLower(p: string): void {
    if (!(this.written.has(p) || this.ancestors.has(p))) {
      this.removeAt(p);
      return;
    }
    if (this.fs.get(p)?.t === 'dir') {
      for (const k of [...this.fs.keys()]) if (this.parentOf(k) === p && this.fs.has(k)) this.clearLower(k);
    }
  }

  apply(entries: readonly TarEntry[]): void {
    this.written = new Set();
    this.ancestors = new Set();
    for (const e of entries) {
      const h = e.header;
      const parts = cleanName(h.name);
      const base = parts[parts.length - 1];
      if (base === undefined) continue;
      if (base.startsWith('.wh.')) {
        if (base !== '.wh..wh..opq' && base.startsWith('.wh..wh.')) continue;
        const name = base.slice(4);
        if (base !== '.wh..wh..opq' && (name === '' || name === '.' || name === '..')) throw new ModelError('bad whiteout');
        const parent = this.resolve(parts.slice(0, -1));
        if (!this.isDir(parent)) continue;
        if (base === '.wh..wh..opq') {
          for (const k of [...this.fs.keys()]) if (this.parentOf(k) === parent && this.fs.has(k)) this.clearLower(k);
        } else this.clearLower(parent === '' ? name : `${parent}/${name}`);
        continue;
      }
      if (h.type === 'link') {
        const tp = cleanName(h.linkname ?? '');
        if (tp.length === 0) throw new ModelError('bad link');
        const tparent = this.resolve(tp.slice(0, -1));
        const target = tparent === '' ? tp[tp.length - 1]! : `${tparent}/${tp[tp.length - 1]}`;
        const tn = this.isDir(tparent) ? this.fs.get(target) : undefined;
        if (tn === undefined || tn.t === 'dir') throw new ModelError('bad link target');
        const parent = this.resolve(parts.slice(0, -1));
        this.ensureParent(parent);
        const p = parent === '' ? base : `${parent}/${base}`;
        if (p !== target) {
          this.removeAt(p);
          this.fs.set(p, { ...tn });
        }
        this.mark(p);
        continue;
      }
      const parent = this.resolve(parts.slice(0, -1));
      this.ensureParent(parent);
      const p = parent === '' ? base : `${parent}/${base}`;
      const cur = this.fs.get(p);
      if (h.type === 'directory') {
        if (cur?.t === 'dir') cur.mode = h.mode!;
        else {
          this.removeAt(p);
          this.fs.set(p, { t: 'dir', mode: h.mode! });
        }
      } else {
        this.removeAt(p);
        if (h.type === 'symlink') this.fs.set(p, { t: 'symlink', target: h.linkname! });
        else this.fs.set(p, { t: 'file', content: e.body!.toString(), mode: h.mode! });
      }
      this.mark(p);
    }
  }

  describe(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of [...this.fs.keys()].sort()) out[k] = desc(this.fs.get(k)!);
    return out;
  }
}

function desc(n: Node): string {
  if (n.t === 'file') return `file ${n.mode.toString(8)} ${n.content}`;
  if (n.t === 'dir') return `dir ${n.mode.toString(8)}`;
  return `symlink ${n.target}`;
}

function describeDisk(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const name of readdirSync(rel === '' ? root : join(root, rel))) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(join(root, r));
      if (st.isDirectory()) {
        out[r] = `dir ${(st.mode & 0o7777).toString(8)}`;
        walk(r);
      } else if (st.isSymbolicLink()) out[r] = `symlink ${readlinkSync(join(root, r))}`;
      else out[r] = `file ${(st.mode & 0o7777).toString(8)} ${readFileSync(join(root, r), 'utf8')}`;
    }
  };
  walk('');
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

// ---- generators -------------------------------------------------------------------------

const seg = fc.constantFrom('a', 'b', 'c');
const relPath = fc.array(seg, { minLength: 1, maxLength: 3 }).map((s) => s.join('/'));
const linkTarget = fc.constantFrom('a', 'b/c', '../a', '/b', '..', '.', 'a/b', '/nonexist', '../../b', 'c/../a', '/');
const entryArb: fc.Arbitrary<TarEntry> = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(relPath, fc.constantFrom('x', 'y', 'zz'), fc.constantFrom(0o644, 0o755, 0o600)).map(([p, c, m]) => file(p, c, { mode: m })) },
  { weight: 3, arbitrary: fc.tuple(relPath, fc.constantFrom(0o755, 0o700, 0o750)).map(([p, m]) => dir(p, { mode: m })) },
  { weight: 1, arbitrary: fc.tuple(relPath, linkTarget).map(([p, t]) => symlink(p, t)) },
  { weight: 1, arbitrary: fc.tuple(relPath, relPath).map(([p, t]) => hardlink(p, t)) },
  { weight: 1, arbitrary: relPath.map((p) => whiteout(p)) },
  { weight: 1, arbitrary: fc.oneof(relPath, fc.constant('')).map((p) => opaque(p)) },
);
const stackArb = fc.array(fc.array(entryArb, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 4 });

describe('applyLayer properties', () => {
  it("random layer stacks applied with 'delete' match the model filesystem", async () => {
    await fc.assert(
      fc.asyncProperty(stackArb, async (stack) => {
        const root = tmp();
        const model = new Model();
        try {
          for (const layer of stack) {
            let modelErr: unknown;
            try {
              model.apply(layer);
            } catch (e) {
              if (!(e instanceof ModelError)) throw e;
              modelErr = e;
            }
            const tar = await tarLayer(layer);
            if (modelErr !== undefined) {
              await assert.rejects(applyLayer(root, Readable.from([tar]), { asRoot: true, whiteouts: 'delete' }), (e) => e instanceof LadingError && e.code === 'INVALID_ARGUMENT');
              return; // the state after a failed layer is not specified: a snapshot is discarded
            }
            await applyLayer(root, Readable.from([tar]), { asRoot: true, whiteouts: 'delete' });
            assert.deepEqual(describeDisk(root), model.describe());
          }
        } finally {
          rmSync(root, { recursive: true, force: true });
        }
      }),
      { numRuns: 150, seed: 20200101 },
    );
  });

  it('no generated entry or symlink chain writes outside the root', async () => {
    const base = tmp();
    const sentinel = join(base, 'sentinel');
    mkdirSync(sentinel);
    writeFileSync(join(sentinel, 'f'), 'keep');
    const before = JSON.stringify(describeDisk(base));
    const hostileName = fc.constantFrom('../x', '../../sentinel/f', '/abs/f', 'a/../../x', './../sentinel', '..', '/', 'l/f', 'l/new/f', 'l2/f', 'l3/x', 'a/b');
    const hostileTarget = fc.constantFrom(sentinel, join(sentinel, 'f'), '../sentinel', '../../../sentinel/f', '..', '/', 'l', 'l2/../..', '../root/l');
    const hostileEntry: fc.Arbitrary<TarEntry> = fc.oneof(
      fc.tuple(hostileName, fc.constantFrom('pwned')).map(([n, c]) => raw({ name: n, type: 'file' }, c)),
      hostileName.map((n) => raw({ name: n, type: 'directory', mode: 0o777 })),
      fc.tuple(hostileName, hostileTarget).map(([n, t]) => raw({ name: n, type: 'symlink', linkname: t })),
      fc.tuple(hostileName, hostileTarget).map(([n, t]) => raw({ name: n, type: 'link', linkname: t })),
      fc.tuple(fc.constantFrom('', 'l/', 'l2/', '../', 'a/'), fc.constantFrom('f', 'sentinel', '..', 'l', '.wh..opq')).map(([d, n]) => raw({ name: `${d}.wh.${n}`, type: 'file' }, '')),
      fc.constantFrom('l', 'l2', '..', '').map((d) => opaque(d)),
      hostileName.map((n) => raw({ name: n, type: 'fifo' })),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(hostileEntry, { minLength: 1, maxLength: 10 }), fc.constantFrom('delete' as const, 'overlay' as const), async (entries, mode) => {
        const root = join(base, 'root');
        mkdirSync(root);
        symlinkSync(sentinel, join(root, 'l'));
        symlinkSync('../sentinel', join(root, 'l2'));
        symlinkSync('/', join(root, 'l3'));
        try {
          await applyLayer(root, Readable.from([await tarLayer(entries)]), { asRoot: true, whiteouts: mode });
        } catch (e) {
          assert.ok(e instanceof LadingError, String(e));
        } finally {
          rmSync(root, { recursive: true, force: true });
        }
        assert.equal(JSON.stringify(describeDisk(base)), before);
        assert.equal(lstatSync(join(sentinel, 'f')).mode & 0o777, 0o644);
      }),
      { numRuns: 150, seed: 7 },
    );
  });
});
