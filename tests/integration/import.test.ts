// lading import: a rootfs tarball (file, stdin, URL; plain or gzip) becomes a one-layer image with
// the --change instructions applied, recorded like a pulled image.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { main } from '../../src/cli/index.js';
import { sha256 } from '../../src/oci/index.js';
import { captureIo, dir, file, tarLayer } from '../../src/testing/index.js';

let work: string;
let rootfs: Buffer;
let server: Server;
let url: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'lading-import-'));
  rootfs = await tarLayer([dir('bin'), file('bin/hello', '#!/bin/sh\necho hi\n', { mode: 0o755 }), dir('etc'), file('etc/os-release', 'ID=test\n')]);
  server = createServer((req, res) => {
    if (req.url === '/rootfs.tar.gz') res.writeHead(200).end(gzipSync(rootfs));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await rm(work, { recursive: true, force: true });
});

async function lading(root: string, args: string[], stdin?: string | Buffer) {
  const io = captureIo({ env: { ...process.env, LADING_ROOT: root }, ...(stdin !== undefined ? { stdin: stdin as string } : {}) });
  process.exitCode = undefined;
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

interface Inspect {
  Id: string;
  RepoTags: string[];
  Comment: string;
  Config: { Cmd: string[] | null; Entrypoint: string[] | null; Env: string[] | null; ExposedPorts?: Record<string, object>; Labels: Record<string, string> | null; WorkingDir: string; User: string };
  RootFS: { Layers: string[] };
}

test('import a file with changes and a message, then inspect it', async () => {
  const root = await mkdtemp(join(work, 'root-'));
  const path = join(work, 'rootfs.tar');
  await writeFile(path, rootfs);
  const r = await lading(root, [
    'import',
    '-c', 'CMD ["/bin/hello", "x"]',
    '-c', 'ENTRYPOINT /bin/sh -c',
    '-c', 'ENV A=1 B="two words"',
    '-c', 'EXPOSE 80 53/udp',
    '-c', 'LABEL org.example.a=b',
    '-c', 'WORKDIR /srv',
    '-c', 'USER nobody',
    '-m', 'first import',
    path,
    'imp:9',
  ]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^sha256:[0-9a-f]{64}\n$/);
  const i = await lading(root, ['image', 'inspect', 'imp:9']);
  const v = (JSON.parse(i.out) as Inspect[])[0]!;
  assert.equal(v.Id, r.out.trim());
  assert.deepEqual(v.RepoTags, ['imp:9']);
  assert.equal(v.Comment, 'first import');
  assert.deepEqual(v.Config.Cmd, ['/bin/hello', 'x']);
  assert.deepEqual(v.Config.Entrypoint, ['/bin/sh', '-c', '/bin/sh -c']);
  assert.deepEqual(v.Config.Env, ['A=1', 'B=two words']);
  assert.deepEqual(v.Config.ExposedPorts, { '53/udp': {}, '80/tcp': {} });
  assert.deepEqual(v.Config.Labels, { 'org.example.a': 'b' });
  assert.equal(v.Config.WorkingDir, '/srv');
  assert.equal(v.Config.User, 'nobody');
  // The diff ID is the hash of the tar as given.
  assert.deepEqual(v.RootFS.Layers, [sha256(rootfs)]);
  const ls = await lading(root, ['images']);
  assert.match(ls.out, /^imp\s+9\s+[0-9a-f]{12}\s/m);
});

test('import from stdin and from a URL; the default comment names the source', async () => {
  const root = await mkdtemp(join(work, 'root-'));
  const fromStdin = await lading(root, ['import', '-', 'std:1'], rootfs.toString('latin1'));
  assert.equal(fromStdin.code, 0, fromStdin.err);
  const s = (JSON.parse((await lading(root, ['image', 'inspect', 'std:1'])).out) as Inspect[])[0]!;
  assert.equal(s.Comment, 'Imported from -');
  assert.equal(s.Config.Cmd, null);
  const fromUrl = await lading(root, ['import', `${url}/rootfs.tar.gz`, 'web:1']);
  assert.equal(fromUrl.code, 0, fromUrl.err);
  const w = (JSON.parse((await lading(root, ['image', 'inspect', 'web:1'])).out) as Inspect[])[0]!;
  assert.equal(w.Comment, `Imported from ${url}/rootfs.tar.gz`);
  assert.deepEqual(w.RootFS.Layers, [sha256(rootfs)]);
});

test('bad changes and non-tar input are refused with Docker\'s words and leave no image', async () => {
  const root = await mkdtemp(join(work, 'root-'));
  const run = await lading(root, ['import', '-c', 'RUN echo hi', '-', 'x:1'], rootfs.toString('latin1'));
  assert.equal(run.code, 1);
  assert.equal(run.err, 'Error response from daemon: run is not a valid change command\n');
  const garbage = await lading(root, ['import', '-', 'x:1'], 'this is not a tar archive at all, not even close; '.repeat(20));
  assert.equal(garbage.code, 1);
  assert.match(garbage.err, /^Error response from daemon: Error processing tar file\(exit status 1\): /);
  const ls = await lading(root, ['images', '-q']);
  assert.equal(ls.out, '');
  const missing = await lading(root, ['import', join(work, 'nope.tar')]);
  assert.equal(missing.code, 1);
  assert.equal(missing.err, `open ${join(work, 'nope.tar')}: no such file or directory\n`);
});
