import { pack, type Header } from 'tar-stream';

type Headers = Partial<Omit<Header, 'pax'>> & { name: string };

/** Fixed timestamp for fixtures: 2020-01-01T00:00:00Z. */
export const FIXTURE_MTIME = new Date('2020-01-01T00:00:00Z');

export interface EntryOptions {
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  /** Extra PAX records (e.g. SCHILY.xattr.*). */
  pax?: Record<string, string>;
}

/** One tar entry for `tarLayer`: a header plus an optional body. */
export interface TarEntry {
  header: Headers & { pax?: Record<string, string> | undefined };
  body?: Buffer;
}

function header(name: string, type: Headers['type'], mode: number, o: EntryOptions, extra: Partial<Headers> = {}): TarEntry['header'] {
  const h: TarEntry['header'] = {
    name,
    type,
    mode: o.mode ?? mode,
    uid: o.uid ?? 0,
    gid: o.gid ?? 0,
    mtime: o.mtime ?? FIXTURE_MTIME,
    uname: '',
    gname: '',
    ...extra,
  };
  if (o.pax !== undefined) h.pax = o.pax;
  return h;
}

export function file(path: string, content: string | Buffer = '', o: EntryOptions = {}): TarEntry {
  const body = typeof content === 'string' ? Buffer.from(content) : content;
  return { header: header(path, 'file', 0o644, o, { size: body.length }), body };
}

export function dir(path: string, o: EntryOptions = {}): TarEntry {
  return { header: header(path, 'directory', 0o755, o) };
}

export function symlink(path: string, target: string, o: EntryOptions = {}): TarEntry {
  return { header: header(path, 'symlink', 0o777, o, { linkname: target }) };
}

/** A hardlink at `path` to the earlier entry `target` (tar link names are archive paths). */
export function hardlink(path: string, target: string, o: EntryOptions = {}): TarEntry {
  return { header: header(path, 'link', 0o644, o, { linkname: target }) };
}

function joinBase(path: string, base: string): string {
  const p = path.replace(/\/+$/, '');
  const i = p.lastIndexOf('/');
  return i < 0 ? base : `${p.slice(0, i + 1)}${base}`;
}

/** An OCI whiteout for `path`: an empty file `dir/.wh.name`. */
export function whiteout(path: string, o: EntryOptions = {}): TarEntry {
  const p = path.replace(/\/+$/, '');
  const i = p.lastIndexOf('/');
  return file(joinBase(p, `.wh.${p.slice(i + 1)}`), '', { mode: 0o600, ...o });
}

/** Marks `dirPath` opaque: an empty file `dir/.wh..wh..opq`. */
export function opaque(dirPath: string, o: EntryOptions = {}): TarEntry {
  const d = dirPath.replace(/\/+$/, '');
  return file(d === '' ? '.wh..wh..opq' : `${d}/.wh..wh..opq`, '', { mode: 0o600, ...o });
}

export function device(path: string, kind: 'char' | 'block', major: number, minor: number, o: EntryOptions = {}): TarEntry {
  return {
    header: header(path, kind === 'char' ? 'character-device' : 'block-device', 0o666, o, { devmajor: major, devminor: minor }),
  };
}

export function fifo(path: string, o: EntryOptions = {}): TarEntry {
  return { header: header(path, 'fifo', 0o644, o) };
}

/** Escape hatch for hostile or odd entries: the header is written as given (defaults filled in). */
export function raw(h: Partial<Headers> & { name: string; pax?: Record<string, string> }, body?: string | Buffer): TarEntry {
  const b = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
  const out: TarEntry = {
    header: {
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtime: FIXTURE_MTIME,
      ...h,
      ...(b !== undefined ? { size: b.length } : {}),
    },
  };
  if (b !== undefined) out.body = b;
  return out;
}

/**
 * A deterministic uncompressed tar of `entries`, in the given order (order matters for layers:
 * whiteouts before siblings, hardlink targets before links), ending with the two zero blocks.
 */
export async function tarLayer(entries: readonly TarEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    p.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    p.on('end', () => resolve(Buffer.concat(chunks)));
    p.on('error', reject);
  });
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const h = { ...e.header };
      if (e.body !== undefined) h.size = e.body.length;
      p.entry(h, e.body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    });
  }
  p.finalize();
  return done;
}
