import type * as ChildProcess from 'node:child_process';
import { LadingError, throwIfAborted } from '../errors/index.js';
import { lazyRequire, tarStream } from '../util/index.js';

// Loaded on first use: only layers with special nodes run tar.
const childProcess = lazyRequire<typeof ChildProcess>('node:child_process');

/**
 * Node has no mknod, mkfifo or xattr API. GNU tar has all three, so the nodes of one layer
 * (devices, fifos, overlay whiteouts = char 0/0) and the overlay opaque markers (xattr
 * trusted.overlay.opaque=y) are written as one small tar and extracted by a single `tar` run
 * per layer: one process instead of one per node. Paths handed in must already be checked to be
 * real directories inside the root (GNU tar would follow a symlinked parent).
 */
export interface SpecialNode {
  /** root-relative path, no '..', no symlinked parents */
  path: string;
  kind: 'char' | 'block' | 'fifo';
  major: number;
  minor: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
}

const OPAQUE_XATTR = 'trusted.overlay.opaque';

async function buildTar(nodes: readonly SpecialNode[], opaqueDirs: readonly string[]): Promise<Buffer> {
  const p = tarStream().pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    p.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    p.on('end', () => resolve(Buffer.concat(chunks)));
    p.on('error', reject);
  });
  for (const n of nodes) {
    p.entry({
      name: n.path,
      type: n.kind === 'char' ? 'character-device' : n.kind === 'block' ? 'block-device' : 'fifo',
      mode: n.mode,
      uid: n.uid,
      gid: n.gid,
      mtime: n.mtime,
      devmajor: n.major,
      devminor: n.minor,
    });
  }
  for (const d of opaqueDirs) {
    // --no-overwrite-dir keeps the directory's own mode, owner and times; only the xattr lands.
    p.entry({ name: d === '' ? '.' : d, type: 'directory', mode: 0o755, mtime: new Date(0), pax: { [`SCHILY.xattr.${OPAQUE_XATTR}`]: 'y' } } as never);
  }
  p.finalize();
  return done;
}

function runTar(args: string[], input: Buffer, o: { signal?: AbortSignal | undefined; maxOutput?: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = childProcess().spawn('tar', args, { stdio: ['pipe', 'pipe', 'pipe'], signal: o.signal });
    const out: Buffer[] = [];
    let outLen = 0;
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      outLen += c.length;
      if (outLen > (o.maxOutput ?? 64 << 20)) child.kill();
      else out.push(c);
    });
    child.stderr.on('data', (c: Buffer) => {
      if (err.length < 4096) err += c.toString();
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.name === 'AbortError') reject(new LadingError('CANCELED', 'operation canceled', { cause: o.signal?.reason }));
      else if (e.code === 'ENOENT') reject(new LadingError('UNSUPPORTED', 'GNU tar is needed to create device nodes, fifos and overlay whiteouts', { cause: e, hint: 'install tar (GNU tar)' }));
      else reject(new LadingError('INTERNAL', `tar: ${e.message}`, { cause: e }));
    });
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new LadingError('INTERNAL', `tar exited with ${code}: ${err.trim()}`));
    });
    child.stdin.on('error', () => {}); // reported through 'close'
    child.stdin.end(input);
  });
}

/** Create `nodes` and mark `opaqueDirs` opaque under `root`, in one GNU tar run. */
export async function createSpecialNodes(
  root: string,
  nodes: readonly SpecialNode[],
  opaqueDirs: readonly string[],
  o: { signal?: AbortSignal | undefined } = {},
): Promise<void> {
  if (nodes.length === 0 && opaqueDirs.length === 0) return;
  throwIfAborted(o.signal);
  const input = await buildTar(nodes, opaqueDirs);
  await runTar(
    ['--xattrs', `--xattrs-include=${OPAQUE_XATTR}`, '--no-overwrite-dir', '--numeric-owner', '-xpf', '-', '-C', root],
    input,
    o,
  );
}

/** The subset of `dirs` (root-relative, '' = root) carrying trusted.overlay.opaque=y. */
export async function readOpaqueDirs(root: string, dirs: readonly string[], o: { signal?: AbortSignal } = {}): Promise<Set<string>> {
  const found = new Set<string>();
  if (dirs.length === 0) return found;
  const list = Buffer.from(dirs.map((d) => (d === '' ? '.' : d)).join('\0') + '\0');
  const out = await runTar(
    ['--xattrs', `--xattrs-include=${OPAQUE_XATTR}`, '--no-recursion', '--null', '-cf', '-', '-C', root, '-T', '-'],
    list,
    { signal: o.signal, maxOutput: 1 << 30 },
  );
  const ex = tarStream().extract();
  ex.on('entry', (h, stream, next) => {
    const pax = (h as { pax?: Record<string, string> }).pax;
    if (pax?.[`SCHILY.xattr.${OPAQUE_XATTR}`] === 'y') {
      let n = h.name.replace(/\/+$/, '');
      if (n === '.') n = '';
      else if (n.startsWith('./')) n = n.slice(2);
      found.add(n);
    }
    stream.resume();
    stream.on('end', () => next());
  });
  await new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', reject);
    ex.end(out);
  });
  return found;
}
