import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { linkSync, lstatSync, mkdirSync, readdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { autoDecompress, compressStream, type Compression } from '../compression/index.js';
import { isCode } from '../errors/index.js';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import {
  dir,
  device,
  fifo,
  file,
  hardlink,
  opaque,
  raw,
  symlink,
  tarLayer,
  whiteout,
  FIXTURE_MTIME,
} from '../testing/index.js';
import { applyLayer, type ApplyLayerOptions } from './apply-layer.js';
import { readOpaqueDirs } from './special-nodes.js';

const temps: string[] = [];
after(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'lading-apply-'));
  temps.push(d);
  return d;
}

const DELETE: ApplyLayerOptions = { asRoot: true, whiteouts: 'delete' };
const OVERLAY: ApplyLayerOptions = { asRoot: true, whiteouts: 'overlay' };

async function apply(root: string, tar: Buffer, o: ApplyLayerOptions = DELETE) {
  return applyLayer(root, Readable.from([tar]), o);
}

describe('applyLayer', () => {
  it('gives directories their exact modes, read-only ones filled all the same, and their times after the content', async () => {
    for (const o of [DELETE, OVERLAY]) {
      const root = tmp();
      const modes = [0o555, 0o500, 0o700, 0o750, 0o755, 0o777, 0o2775, 0o1777];
      const name = (m: number) => `d${m.toString(8)}`;
      await apply(root, await tarLayer(modes.flatMap((m) => [dir(name(m), { mode: m }), dir(`${name(m)}/sub`), file(`${name(m)}/sub/f`, 'x')])), o);
      for (const m of modes) {
        const st = lstatSync(join(root, name(m)));
        assert.equal(st.mode & 0o7777, m, `${o.whiteouts} ${name(m)}`);
        assert.equal(st.mtimeMs, FIXTURE_MTIME.getTime(), `${o.whiteouts} ${name(m)} mtime`);
        assert.equal(readFileSync(join(root, name(m), 'sub/f'), 'utf8'), 'x');
      }
    }
  });

  it('gives files their exact modes whatever the umask (group/world-writable, read-only, setuid)', async () => {
    const root = tmp();
    const modes = [0o666, 0o777, 0o444, 0o640, 0o600, 0o4755, 0o2775, 0o1777];
    await apply(root, await tarLayer(modes.map((m) => file(`f${m.toString(8)}`, 'x', { mode: m }))));
    for (const m of modes) assert.equal(lstatSync(join(root, `f${m.toString(8)}`)).mode & 0o7777, m, m.toString(8));
  });

  it('writes files, dirs, symlinks and hardlinks with metadata, and returns diffId/bytes/size', async () => {
    const root = tmp();
    const tar = await tarLayer([
      dir('etc', { mode: 0o750, uid: 1, gid: 2 }),
      file('etc/hosts', '127.0.0.1 localhost\n', { mode: 0o640, uid: 3, gid: 4 }),
      file('bin/su', 'su', { mode: 0o4755 }),
      symlink('etc/hosts.link', 'hosts', { uid: 5, gid: 6 }),
      hardlink('etc/hosts.allow', 'etc/hosts'),
      fifo('run/fifo'),
      device('dev/null', 'char', 1, 3),
    ]);
    const r = await apply(root, tar);
    assert.equal(r.diffId, `sha256:${createHash('sha256').update(tar).digest('hex')}`);
    assert.equal(r.bytes, tar.length);
    assert.equal(r.size, 20 + 2);

    const etc = lstatSync(join(root, 'etc'));
    assert.equal(etc.mode & 0o7777, 0o750);
    assert.deepEqual([etc.uid, etc.gid], [1, 2]);
    assert.equal(etc.mtimeMs, FIXTURE_MTIME.getTime());
    const hosts = lstatSync(join(root, 'etc/hosts'));
    assert.equal(hosts.mode & 0o7777, 0o640);
    assert.deepEqual([hosts.uid, hosts.gid], [3, 4]);
    assert.equal(hosts.mtimeMs, FIXTURE_MTIME.getTime());
    assert.equal(readFileSync(join(root, 'etc/hosts'), 'utf8'), '127.0.0.1 localhost\n');
    assert.equal(lstatSync(join(root, 'bin/su')).mode & 0o7777, 0o4755);
    assert.equal(lstatSync(join(root, 'bin')).mode & 0o7777, 0o755); // implicit parent
    const link = lstatSync(join(root, 'etc/hosts.link'));
    assert.ok(link.isSymbolicLink());
    assert.equal(readlinkSync(join(root, 'etc/hosts.link')), 'hosts');
    assert.deepEqual([link.uid, link.gid], [5, 6]);
    assert.equal(link.mtimeMs, FIXTURE_MTIME.getTime());
    assert.equal(lstatSync(join(root, 'etc/hosts.allow')).ino, hosts.ino);
    assert.ok(lstatSync(join(root, 'run/fifo')).isFIFO());
    const dev = lstatSync(join(root, 'dev/null'));
    assert.ok(dev.isCharacterDevice());
    assert.equal(dev.rdev, (1 << 8) | 3);
  });

  it('skips devices without root but keeps fifos, and drops setuid bits', async () => {
    const root = tmp();
    const tar = await tarLayer([device('dev/null', 'char', 1, 3), fifo('f'), file('su', 'x', { mode: 0o4755, uid: 7 })]);
    await apply(root, tar, { asRoot: false, whiteouts: 'delete' });
    assert.equal(lstatSync(join(root, 'dev/null'), { throwIfNoEntry: false }), undefined);
    assert.ok(lstatSync(join(root, 'f')).isFIFO());
    const su = lstatSync(join(root, 'su'));
    assert.equal(su.mode & 0o7777, 0o755);
    assert.equal(su.uid, process.getuid!());
  });

  it('replaces an existing file by unlinking it, leaving other hardlinks to the old inode alone', async () => {
    const root = tmp();
    writeFileSync(join(root, 'shared'), 'old');
    const outside = join(tmp(), 'other-snapshot-file');
    linkSync(join(root, 'shared'), outside);
    await apply(root, await tarLayer([file('shared', 'new')]));
    assert.equal(readFileSync(join(root, 'shared'), 'utf8'), 'new');
    assert.equal(readFileSync(outside, 'utf8'), 'old');
  });

  it('fails on an entry whose large body it never read, with nothing left uncaught', async () => {
    // "c/b" fails before its body is read; the parser then destroys that body with the error.
    const tar = await tarLayer([file('c', 'x'), file('c/b', Buffer.alloc(70_000, 1)), file('d', Buffer.alloc(70_000, 1))]);
    await assert.rejects(apply(tmp(), tar), { code: 'INVALID_ARGUMENT', message: 'invalid tar entry "c/b": "c" is not a directory' });
    await new Promise((r) => setTimeout(r, 20)); // an uncaught exception would fail this file
  });

  it('merges an existing dir, replaces a dir by a file and a non-dir by a dir', async () => {
    const root = tmp();
    mkdirSync(join(root, 'keep'));
    writeFileSync(join(root, 'keep/lower'), 'l');
    mkdirSync(join(root, 'gone/sub'), { recursive: true });
    writeFileSync(join(root, 'gone/sub/x'), 'x');
    writeFileSync(join(root, 'wasfile'), 'f');
    symlinkSync('/etc', join(root, 'wassymlink'));
    await apply(
      root,
      await tarLayer([
        dir('keep', { mode: 0o700 }),
        file('keep/upper', 'u'),
        file('gone', 'now a file'),
        dir('wasfile'),
        dir('wassymlink'),
        file('wassymlink/inside', 'i'),
      ]),
    );
    assert.equal(readFileSync(join(root, 'keep/lower'), 'utf8'), 'l');
    assert.equal(readFileSync(join(root, 'keep/upper'), 'utf8'), 'u');
    assert.equal(lstatSync(join(root, 'keep')).mode & 0o7777, 0o700);
    assert.equal(readFileSync(join(root, 'gone'), 'utf8'), 'now a file');
    assert.ok(lstatSync(join(root, 'wasfile')).isDirectory());
    assert.ok(lstatSync(join(root, 'wassymlink')).isDirectory());
    assert.equal(readFileSync(join(root, 'wassymlink/inside'), 'utf8'), 'i');
  });

  it('sets directory mtimes after the entries inside them', async () => {
    const root = tmp();
    await apply(root, await tarLayer([dir('a'), dir('a/b'), file('a/b/c', 'c'), file('a/d', 'd')]));
    assert.equal(lstatSync(join(root, 'a')).mtimeMs, FIXTURE_MTIME.getTime());
    assert.equal(lstatSync(join(root, 'a/b')).mtimeMs, FIXTURE_MTIME.getTime());
  });

  it("handles long names and PAX headers through tar-stream", async () => {
    const root = tmp();
    const long = `${'d'.repeat(120)}/${'f'.repeat(150)}`;
    await apply(root, await tarLayer([file(long, 'long'), file('ü-ñ', 'utf8', { pax: { mtime: '1577836800.5' } })]));
    assert.equal(readFileSync(join(root, long), 'utf8'), 'long');
    assert.equal(lstatSync(join(root, 'ü-ñ')).mtimeMs, FIXTURE_MTIME.getTime() + 500);
  });

  describe("whiteouts: 'delete'", () => {
    it('removes the target of a whiteout and empties an opaque dir, sparing this layer', async () => {
      const root = tmp();
      await apply(root, await tarLayer([dir('a'), file('a/x', 'x'), file('a/y', 'y'), dir('o'), file('o/lower', 'l'), dir('o/sub'), file('o/sub/deep', 'd'), file('f', 'f')]));
      await apply(
        root,
        await tarLayer([
          whiteout('a/x'),
          file('o/new', 'n'), // earlier in this layer than the opaque marker: kept
          opaque('o'),
          whiteout('f'),
          file('f2', 'f2'),
          whiteout('f2'), // written by this layer: kept
          whiteout('missing/parent/x'), // nothing to hide: no-op, no dirs created
        ]),
      );
      assert.equal(lstatSync(join(root, 'a/x'), { throwIfNoEntry: false }), undefined);
      assert.equal(readFileSync(join(root, 'a/y'), 'utf8'), 'y');
      assert.deepEqual(readdirSorted(join(root, 'o')), ['new']);
      assert.equal(lstatSync(join(root, 'f'), { throwIfNoEntry: false }), undefined);
      assert.equal(readFileSync(join(root, 'f2'), 'utf8'), 'f2');
      assert.equal(lstatSync(join(root, 'missing'), { throwIfNoEntry: false }), undefined);
    });

    it('a whiteout of a dir this layer already wrote into keeps only this layer’s entries', async () => {
      const root = tmp();
      await apply(root, await tarLayer([dir('d'), file('d/lower', 'l'), dir('d/s'), file('d/s/lower2', 'l')]));
      await apply(root, await tarLayer([dir('d/s'), file('d/s/mine', 'm'), whiteout('d')]));
      assert.deepEqual(readdirSorted(join(root, 'd')), ['s']);
      assert.deepEqual(readdirSorted(join(root, 'd/s')), ['mine']);
    });

    it('treats any .wh. entry as a whiteout whatever its type (Docker 20.10 quirks)', async () => {
      const root = tmp();
      await apply(root, await tarLayer([file('a', 'a'), file('b', 'b'), file('c', 'c')]));
      await apply(
        root,
        await tarLayer([
          raw({ name: '.wh.a', type: 'file', linkname: 'leftover' }, ''),
          raw({ name: '.wh.b', type: 'link', linkname: '.wh.a' }),
          raw({ name: '.wh.c', type: 'symlink', linkname: 'x' }),
        ]),
      );
      assert.deepEqual(readdirSorted(root), []);
    });

    it('rejects whiteouts of . and .. and ignores other AUFS metadata', async () => {
      for (const name of ['.wh..', '.wh...', 'etc/.wh..', 'etc/.wh...', '.wh.']) {
        const root = tmp();
        mkdirSync(join(root, 'etc'));
        writeFileSync(join(root, 'etc/passwd'), 'inside');
        await assert.rejects(apply(root, await tarLayer([file(name, '')])), (e) => isCode(e, 'INVALID_ARGUMENT'), name);
        assert.equal(readFileSync(join(root, 'etc/passwd'), 'utf8'), 'inside');
      }
      const root = tmp();
      await apply(root, await tarLayer([file('.wh..wh.plnk', ''), file('keep', 'k')]));
      assert.deepEqual(readdirSorted(root), ['keep']);
    });
  });

  describe("whiteouts: 'overlay'", () => {
    it('writes char 0/0 whiteouts and trusted.overlay.opaque dirs', async () => {
      const root = tmp();
      await apply(
        root,
        await tarLayer([
          dir('a'),
          whiteout('a/gone'),
          dir('o'),
          opaque('o'),
          file('o/kept', 'k'),
          whiteout('w/redone'), // implicit parent, then recreated by this layer as a dir: opaque
          dir('w/redone'),
          file('w/redone/f', 'f'),
          whiteout('x'),
          file('x', 'now a file'),
          whiteout('y'),
          file('y/under', 'u'), // content under a whited-out path: the dir becomes opaque
        ]),
        OVERLAY,
      );
      const wh = lstatSync(join(root, 'a/gone'));
      assert.ok(wh.isCharacterDevice());
      assert.equal(wh.rdev, 0);
      assert.equal(readFileSync(join(root, 'x'), 'utf8'), 'now a file');
      assert.deepEqual(readdirSorted(join(root, 'o')), ['kept']);
      const opq = await readOpaqueDirs(root, ['a', 'o', 'w', 'w/redone', 'y']);
      assert.deepEqual([...opq].sort(), ['o', 'w/redone', 'y']);
      assert.equal(lstatSync(join(root, 'o')).mtimeMs, FIXTURE_MTIME.getTime());
    });

    it('needs root', async () => {
      const root = tmp();
      await assert.rejects(
        apply(root, await tarLayer([whiteout('a')]), { asRoot: false, whiteouts: 'overlay' }),
        (e) => isCode(e, 'UNSUPPORTED'),
      );
    });
  });

  describe('compressed layers through autoDecompress', () => {
    for (const kind of ['gzip', 'zstd', 'none'] as Compression[]) {
      it(`applies a ${kind} layer and reports the diffID of the uncompressed tar`, async () => {
        const tar = await tarLayer([dir('usr'), file('usr/a', 'A'.repeat(5000)), symlink('usr/b', 'a'), file('usr/c', '')]);
        const packed: Buffer[] = [];
        await pipeline(
          Readable.from([tar]),
          compressStream(kind),
          new Writable({
            write(c: Buffer, _e, cb) {
              packed.push(c);
              cb();
            },
          }),
        );
        const root = tmp();
        const dec = autoDecompress();
        const r = await applyLayer(root, Readable.from(packed).pipe(dec), DELETE);
        assert.equal(dec.compression, kind);
        assert.equal(r.diffId, `sha256:${createHash('sha256').update(tar).digest('hex')}`);
        assert.equal(r.bytes, tar.length);
        assert.equal(r.size, 5000);
        assert.equal(readFileSync(join(root, 'usr/a'), 'utf8'), 'A'.repeat(5000));
        assert.equal(readlinkSync(join(root, 'usr/b')), 'a');
      });
    }

    it('fails cleanly on a corrupt gzip layer', async () => {
      const tar = await tarLayer([file('a', 'A'.repeat(5000))]);
      const { gzipSync } = await import('node:zlib');
      const gz = Buffer.from(gzipSync(tar));
      gz.fill(0, 30, 60);
      await assert.rejects(applyLayer(tmp(), Readable.from([gz]).pipe(autoDecompress()), DELETE), (e) => isCode(e, 'INVALID_ARGUMENT'));
    });
  });

  describe('errors', () => {
    it('rejects a truncated tar with unexpected EOF', async () => {
      const root = tmp();
      const tar = await tarLayer([file('big', Buffer.alloc(4096, 1))]);
      await assert.rejects(apply(root, tar.subarray(0, 512 + 1000)), (e) => isCode(e, 'INVALID_ARGUMENT') && (e as Error).message === 'unexpected EOF');
    });

    it('rejects a corrupt header', async () => {
      const root = tmp();
      const tar = Buffer.from(await tarLayer([file('a', 'a')]));
      tar[148] = 0x39; // checksum
      await assert.rejects(apply(root, tar), (e) => isCode(e, 'INVALID_ARGUMENT') && (e as Error).message === 'archive/tar: invalid tar header');
    });

    it('rejects a hardlink to a missing target or a directory', async () => {
      await assert.rejects(apply(tmp(), await tarLayer([hardlink('l', 'nope')])), {
        code: 'INVALID_ARGUMENT',
        message: 'invalid tar entry "l": hardlink target "nope" does not exist',
      });
      await assert.rejects(apply(tmp(), await tarLayer([dir('d'), hardlink('l', 'd')])), {
        code: 'INVALID_ARGUMENT',
        message: 'invalid tar entry "l": hardlink target "d" is a directory',
      });
    });

    it('rejects a file under a non-directory', async () => {
      await assert.rejects(apply(tmp(), await tarLayer([file('f', 'f'), file('f/g', 'g')])), {
        code: 'INVALID_ARGUMENT',
        message: 'invalid tar entry "f/g": "f" is not a directory',
      });
    });

    it('is canceled by its signal', async () => {
      const ac = new AbortController();
      ac.abort(new Error('stop'));
      await assert.rejects(applyLayer(tmp(), Readable.from([await tarLayer([file('a', 'a')])]), { ...DELETE, signal: ac.signal }), (e) =>
        isCode(e, 'CANCELED'),
      );
    });

    it('reports progress as cumulative uncompressed bytes', async () => {
      const tar = await tarLayer([file('a', Buffer.alloc(3000))]);
      const seen: number[] = [];
      await applyLayer(tmp(), Readable.from([tar.subarray(0, 1000), tar.subarray(1000)]), { ...DELETE, onProgress: (b) => seen.push(b) });
      assert.deepEqual(seen, [1000, tar.length]);
    });
  });
});

function readdirSorted(p: string): string[] {
  return readdirSync(p).sort();
}
