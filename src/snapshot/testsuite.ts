// Conformance suite every Snapshotter runs (containerd's core/snapshots/testsuite idea).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isCode } from '../errors/index.js';
import { chainIds, sha256, type Digest } from '../oci/index.js';
import { dir, file, hardlink, opaque, symlink, tarLayer, whiteout, type TarEntry } from '../testing/index.js';
import { applyLayerSnapshot } from './apply-layer-snapshot.js';
import { readMergedTree, type TreeEntry } from './merged-tree.js';

/** What the snapshotter holds on disk: its directories, and any active-snapshot markers left. */
function entries(root: string): string[] {
  const dir = join(root, 'snapshots');
  const markers = existsSync(join(dir, '.active')) ? readdirSync(join(dir, '.active')).map((m) => `.active/${m}`) : [];
  return [...readdirSync(dir).filter((n) => n !== '.active' && n !== '.marked'), ...markers];
}
import type { Snapshotter } from './types.js';

/** A compact, comparable view of a tree: path -> "type mode detail". */
export function describeTree(tree: Map<string, TreeEntry>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [p, e] of [...tree].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const m = e.mode.toString(8).padStart(4, '0');
    if (e.type === 'file') out[p] = `file ${m} ${e.size} ${e.sha256!.slice(0, 12)}`;
    else if (e.type === 'symlink') out[p] = `symlink -> ${e.target}`;
    else if (e.type === 'char' || e.type === 'block') out[p] = `${e.type} ${m} ${e.rdev}`;
    else out[p] = `${e.type} ${m}`;
  }
  return out;
}

const short = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 12);
export const f = (content: string, mode = '0644'): string => `file ${mode} ${Buffer.byteLength(content)} ${short(content)}`;

/** Apply `layers` as a chain of committed snapshots; returns their chain IDs. */
export async function applyChain(sn: Snapshotter, layers: readonly (readonly TarEntry[])[]): Promise<Digest[]> {
  const tars = await Promise.all(layers.map((l) => tarLayer(l)));
  const ids = chainIds(tars.map((t) => sha256(t)));
  for (let i = 0; i < tars.length; i++) {
    await applyLayerSnapshot(sn, ids[i]!, ids[i - 1], Readable.from([tars[i]!]), { diffId: sha256(tars[i]!) });
  }
  return ids;
}

export function snapshotterSuite(name: string, make: (root: string) => Snapshotter): void {
  describe(`snapshotter conformance: ${name}`, () => {
    let root: string;
    let sn: Snapshotter;
    beforeEach(() => {
      root = mkdtempSync(join(tmpdir(), 'lading-snap-'));
      sn = make(root);
    });
    afterEach(() => rmSync(root, { recursive: true, force: true }));

    const tree = async (key: string) => describeTree(await readMergedTree(sn, key));

    it('applies layers out of order only where layers are independent, committing in order', async () => {
      const layers = [[dir('a'), file('a/one', '1')], [file('a/two', '2')], [file('a/one', 'one')]];
      const tars = await Promise.all(layers.map((l) => tarLayer(l)));
      const ids = chainIds(tars.map((t) => sha256(t)));
      const apply = (i: number, beforeCommit?: () => Promise<void>) =>
        applyLayerSnapshot(sn, ids[i]!, ids[i - 1], Readable.from([tars[i]!]), { diffId: sha256(tars[i]!), ...(beforeCommit ? { beforeCommit } : {}) });
      if (!sn.layersIndependent) {
        await assert.rejects(apply(1), (e) => isCode(e, 'NOT_FOUND'));
        return;
      }
      // The top layer first: applied into its own directory, its commit waits for the parent's.
      let releaseMiddle!: () => void;
      const middleCommitted = new Promise<void>((r) => (releaseMiddle = r));
      const top = apply(2, () => middleCommitted);
      const middle = apply(1);
      // Without waiting, the commit of a layer whose parent is missing is refused.
      await assert.rejects(middle, (e) => isCode(e, 'NOT_FOUND') || isCode(e, 'INVALID_ARGUMENT'));
      await apply(0);
      await apply(1);
      releaseMiddle();
      await top;
      assert.deepEqual(await tree(ids[2]!), { a: 'dir 0755', 'a/one': f('one'), 'a/two': f('2') });
      const keys: string[] = [];
      for await (const s of sn.walk()) keys.push(s.key);
      assert.deepEqual(keys.sort(), [...ids].sort(), 'no extraction snapshot is left behind');
    });

    it('applies a single layer as a committed snapshot', async () => {
      const layer = [dir('etc'), file('etc/hosts', 'h'), symlink('etc/l', 'hosts'), dir('empty', { mode: 0o700 })];
      const [id] = await applyChain(sn, [layer]);
      assert.deepEqual(await tree(id!), {
        empty: 'dir 0700',
        etc: 'dir 0755',
        'etc/hosts': f('h'),
        'etc/l': 'symlink -> hosts',
      });
      const info = await sn.stat(id!);
      assert.equal(info?.kind, 'committed');
      assert.equal(info?.parent, undefined);
      assert.equal(info?.size, 1);
      const all = [];
      for await (const s of sn.walk()) all.push(s.key);
      assert.deepEqual(all, [id]);
    });

    it('honours whiteouts across a stack', async () => {
      const ids = await applyChain(sn, [
        [dir('a'), file('a/x', 'x'), file('a/y', 'y'), dir('d'), file('d/in', 'i')],
        [whiteout('a/x'), whiteout('d')],
      ]);
      assert.deepEqual(await tree(ids[1]!), { a: 'dir 0755', 'a/y': f('y') });
      // the lower snapshot is untouched
      assert.deepEqual(await tree(ids[0]!), { a: 'dir 0755', 'a/x': f('x'), 'a/y': f('y'), d: 'dir 0755', 'd/in': f('i') });
      assert.equal((await sn.stat(ids[1]!))?.parent, ids[0]);
    });

    it('makes opaque directories hide lower content', async () => {
      const ids = await applyChain(sn, [
        [dir('o'), file('o/l1', '1'), dir('o/sub'), file('o/sub/d', 'd'), file('top', 't')],
        [dir('o'), opaque('o'), file('o/new', 'n')],
        [dir('o'), file('o/third', '3')],
      ]);
      assert.deepEqual(await tree(ids[2]!), { o: 'dir 0755', 'o/new': f('n'), 'o/third': f('3'), top: f('t') });
    });

    it('lets the top layer win: file by dir, dir by file, symlink replaced', async () => {
      const ids = await applyChain(sn, [
        [file('p', 'p'), dir('q'), file('q/inner', 'i'), symlink('s', 't1'), file('m', 'old', { mode: 0o600 })],
        [dir('p', { mode: 0o750 }), file('p/c', 'c'), file('q', 'q'), symlink('s', 't2'), file('m', 'new', { mode: 0o755 })],
      ]);
      assert.deepEqual(await tree(ids[1]!), {
        m: f('new', '0755'),
        p: 'dir 0750',
        'p/c': f('c'),
        q: f('q'),
        s: 'symlink -> t2',
      });
    });

    it('keeps hardlinks within a layer', async () => {
      const [id] = await applyChain(sn, [[file('f', 'data'), dir('d'), hardlink('d/g', 'f')]]);
      const t = await readMergedTree(sn, id!);
      assert.equal(lstatSync(t.get('f')!.source).ino, lstatSync(t.get('d/g')!.source).ino);
      assert.equal(lstatSync(t.get('f')!.source).nlink, 2);
    });

    it('rejects a diffID mismatch and leaves nothing behind', async () => {
      const tar = await tarLayer([file('a', 'a')]);
      const wrong = sha256('not it');
      await assert.rejects(applyLayerSnapshot(sn, wrong, undefined, Readable.from([tar]), { diffId: wrong }), (e) => {
        assert.ok(isCode(e, 'DIGEST_MISMATCH'));
        assert.equal((e as Error).message, `layer ${wrong}: diffID mismatch: expected ${wrong}, got ${sha256(tar)}`);
        return true;
      });
      assert.equal(await sn.stat(wrong), undefined);
      assert.deepEqual(entries(root), []);
    });

    it('cleans up after a broken tar', async () => {
      const tar = await tarLayer([file('a', Buffer.alloc(2000, 1))]);
      const id = sha256(tar);
      await assert.rejects(applyLayerSnapshot(sn, id, undefined, Readable.from([tar.subarray(0, 1000)]), { diffId: id }), (e) => isCode(e, 'INVALID_ARGUMENT'));
      assert.deepEqual(entries(root), []);
    });

    it('treats a layer committed meanwhile as success', async () => {
      const [id] = await applyChain(sn, [[file('a', 'a')]]);
      const tar = await tarLayer([file('a', 'a')]);
      const r = await applyLayerSnapshot(sn, id!, undefined, Readable.from([tar]), { diffId: id! });
      assert.equal(r.diffId, id);
      assert.equal(entries(root).length, 1);
    });

    it('removes snapshots, children first', async () => {
      const ids = await applyChain(sn, [[file('a', 'a')], [file('b', 'b')]]);
      await assert.rejects(sn.remove(ids[0]!), (e) => isCode(e, 'CONFLICT'));
      await sn.remove(ids[1]!);
      await sn.remove(ids[0]!);
      assert.equal(await sn.stat(ids[0]!), undefined);
      await assert.rejects(sn.remove(ids[0]!), (e) => isCode(e, 'NOT_FOUND'));
      assert.deepEqual(entries(root), []);
    });

    it('prepares writable snapshots and views that leave their parents untouched', async () => {
      const ids = await applyChain(sn, [[file('a', 'a')], [file('b', 'b')]]);
      const mounts = await sn.prepare('container-1', ids[1]!);
      assert.equal(mounts.length, 1);
      if (sn.kind === 'overlay') {
        const layers = await sn.layers(ids[1]!);
        assert.deepEqual(mounts[0], {
          type: 'overlay',
          source: 'overlay',
          options: [`workdir=${join(sn.applyDir('container-1'), '..', 'work')}`, `upperdir=${sn.applyDir('container-1')}`, `lowerdir=${layers.join(':')}`],
        });
      } else {
        assert.deepEqual(mounts[0], { type: 'bind', source: sn.applyDir('container-1'), options: ['rw', 'rbind'] });
        // a process writing in place must not reach the parent's inode
        writeFileSync(join(sn.applyDir('container-1'), 'a'), 'changed');
      }
      assert.deepEqual(await tree(ids[1]!), { a: f('a'), b: f('b') });
      assert.deepEqual(await sn.mounts('container-1'), mounts);
      const view = await sn.view('view-1', ids[0]!);
      assert.ok(view[0]!.options.includes('ro'));
      await assert.rejects(sn.mounts(ids[0]!), (e) => isCode(e, 'INVALID_ARGUMENT'));
      await assert.rejects(sn.prepare('container-1', ids[1]!), (e) => isCode(e, 'ALREADY_EXISTS'));
      await assert.rejects(sn.prepare('x', sha256('missing')), (e) => isCode(e, 'NOT_FOUND'));
      await assert.rejects(sn.prepare('y', 'container-1'), (e) => isCode(e, 'INVALID_ARGUMENT'));
      const kinds: Record<string, string> = {};
      for await (const s of sn.walk()) kinds[s.key] = s.kind;
      assert.deepEqual(kinds, { [ids[0]!]: 'committed', [ids[1]!]: 'committed', 'container-1': 'active', 'view-1': 'view' });
      await sn.commit('committed-container', 'container-1');
      assert.equal((await sn.stat('committed-container'))?.parent, ids[1]);
      assert.equal(await sn.stat('container-1'), undefined);
    });

    it('reports usage', async () => {
      const [id] = await applyChain(sn, [[dir('d'), file('d/a', 'abc'), file('b', 'de'), hardlink('c', 'b')]]);
      assert.deepEqual(await sn.usage(id!), { bytes: 5, inodes: 3 });
      assert.equal(readFileSync(join(sn.applyDir(id!), 'd/a'), 'utf8'), 'abc');
    });
  });
}
