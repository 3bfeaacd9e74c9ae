import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createCipheriv } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool, request } from 'undici';
import { pushBlobFile } from './image-gen.js';
import { freePort, startRegistry, which, type Registry } from './peers.js';
import type { BenchContext } from './run.js';

const USAGE = `usage: npm run bench -- registry [options]

lading's registry (lading registry serve) next to the CNCF distribution registry, both on
loopback in the same run, each in its own process with request logging off:
  manifest GET by tag per second, many concurrent clients (an undici Pool load generator,
  one process, --connections keep-alive connections, --seconds per registry)
  throughput of one 500 MB blob GET (median of --runs)
  skopeo copy of a 300 MB OCI layout into the registry (median of --runs)
and the peak RSS (VmHWM) of the lading registry process.

options:
  --connections N   concurrent connections of the load generator (default 64)
  --seconds S       load duration per registry (default 5)
  --runs N          runs of the blob GET and the skopeo push (default 3)
`;

const MiB = 1024 * 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Deterministic incompressible bytes (AES-CTR keystream), written once and cached. */
async function randomFile(path: string, size: number, seed: string): Promise<string> {
  const digestFile = `${path}.sha256`;
  if (existsSync(path) && existsSync(digestFile)) return readFileSync(digestFile, 'utf8');
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const hash = createHash('sha256');
  const out = createWriteStream(`${path}.tmp`);
  const zero = Buffer.alloc(4 * MiB);
  for (let written = 0; written < size; ) {
    const n = Math.min(zero.length, size - written);
    const chunk = cipher.update(zero.subarray(0, n));
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
    written += n;
  }
  await new Promise<void>((r, j) => { out.once('error', j); out.end(() => r()); });
  await rename(`${path}.tmp`, path);
  const d = `sha256:${hash.digest('hex')}`;
  await writeFile(digestFile, d);
  return d;
}

/** An OCI layout of ~300 MB: three 100 MB layers of incompressible bytes and a small config. */
async function ensureLayout(cacheDir: string, log: (m: string) => void): Promise<string> {
  const dir = join(cacheDir, 'registry-300m');
  const blobs = join(dir, 'blobs', 'sha256');
  if (existsSync(join(dir, 'index.json'))) return dir;
  log('generating a 300 MB OCI layout (cached in ' + dir + ')');
  await mkdir(blobs, { recursive: true });
  const layers = [];
  for (let i = 0; i < 3; i++) {
    const tmp = join(dir, `layer${i}`);
    const d = await randomFile(tmp, 100 * 1000 * 1000, `lading-registry-bench-layer-${i}`);
    await rename(tmp, join(blobs, d.slice(7)));
    await rm(`${tmp}.sha256`, { force: true });
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d, size: 100 * 1000 * 1000 });
  }
  const put = async (bytes: Buffer) => {
    const d = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    await writeFile(join(blobs, d.slice(7)), bytes);
    return { digest: d, size: bytes.length };
  };
  const config = await put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } })));
  const manifest = await put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers })));
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }] }));
  return dir;
}

interface LadingProcess extends Registry {
  pid: number;
  /** Peak resident set size so far (VmHWM). */
  peakRss(): number;
}

async function startLading(ctx: BenchContext, root: string): Promise<LadingProcess> {
  const port = await freePort();
  const bin = process.env.LADING_BIN ?? join(ctx.repoRoot, 'bin', 'lading.js');
  const child: ChildProcess = spawn(process.execPath, [bin, 'registry', 'serve', '--addr', `127.0.0.1:${port}`, '--root', root, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      const r = await request(`${url}/v2/`);
      await r.body.dump();
      if (r.statusCode === 200) break;
    } catch {
      if (i > 300 || child.exitCode !== null) throw new Error('lading registry did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    host: `127.0.0.1:${port}`,
    url,
    pid: child.pid!,
    peakRss: () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A small image tagged `bench/small:latest`: what the manifest load fetches. */
async function seedSmall(url: string): Promise<void> {
  const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  const cd = `sha256:${createHash('sha256').update(config).digest('hex')}`;
  const start = await request(`${url}/v2/bench/small/blobs/uploads/`, { method: 'POST' });
  await start.body.dump();
  const loc = new URL(String(start.headers.location), url);
  loc.searchParams.set('digest', cd);
  const put = await request(loc, { method: 'PUT', body: config, headers: { 'content-type': 'application/octet-stream' } });
  await put.body.dump();
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cd, size: config.length }, layers: [] });
  const m = await request(`${url}/v2/bench/small/manifests/latest`, { method: 'PUT', body: manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
  if (m.statusCode !== 201) throw new Error(`seeding ${url}: HTTP ${m.statusCode} ${await m.body.text()}`);
  await m.body.dump();
}

/** Closed-loop load: `connections` workers each keep one manifest GET in flight for `seconds`. */
async function manifestLoad(url: string, connections: number, seconds: number): Promise<{ rps: number; errors: number }> {
  const pool = new Pool(url, { connections, pipelining: 1 });
  const path = '/v2/bench/small/manifests/latest';
  const headers = { accept: 'application/vnd.oci.image.manifest.v1+json' };
  let ok = 0;
  let errors = 0;
  const warmupEnd = Date.now() + 500;
  const end = warmupEnd + seconds * 1000;
  let counting = false;
  const worker = async () => {
    while (Date.now() < end) {
      try {
        const r = await pool.request({ method: 'GET', path, headers });
        await r.body.dump();
        if (!counting) continue;
        if (r.statusCode === 200) ok++;
        else errors++;
      } catch {
        errors++;
      }
    }
  };
  const timer = setTimeout(() => (counting = true), 500);
  await Promise.all(Array.from({ length: connections }, worker));
  clearTimeout(timer);
  await pool.close();
  return { rps: ok / seconds, errors };
}

async function blobGet(url: string, repo: string, digest: string, size: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await request(`${url}/v2/${repo}/blobs/${digest}`);
  let n = 0;
  for await (const c of r.body) n += (c as Buffer).length;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.statusCode !== 200 || n !== size) throw new Error(`blob GET: HTTP ${r.statusCode}, ${n} of ${size} bytes`);
  return size / MiB / s;
}

function skopeoPush(layout: string, host: string, repo: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const c = spawn('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${host}/${repo}:v1`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.once('exit', (code) => (code === 0 ? resolve((Date.now() - t0) / 1000) : reject(new Error(`skopeo copy failed: ${err}`))));
  });
}

export async function benchRegistry(args: string[], ctx: BenchContext): Promise<number> {
  const { values } = parseArgs({ args, options: { connections: { type: 'string', default: '64' }, seconds: { type: 'string', default: '5' }, runs: { type: 'string', default: '3' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const connections = Number(values.connections);
  const seconds = Number(values.seconds);
  const runs = Number(values.runs);
  if (!which('skopeo')) throw new Error('skopeo is not installed (apt-get install -y skopeo)');
  const log = ctx.log;
  await mkdir(ctx.cacheDir, { recursive: true });
  const bigFile = join(ctx.cacheDir, 'registry-blob-500m');
  log('preparing a 500 MB blob and a 300 MB OCI layout (cached under ' + ctx.cacheDir + ')');
  const bigDigest = await randomFile(bigFile, 500 * 1000 * 1000, 'lading-registry-bench-500m');
  const layout = await ensureLayout(ctx.cacheDir, log);
  const work = await mkdtemp('/tmp/lrb-');
  const targets: Array<{ name: string; reg: Registry; lading?: LadingProcess }> = [];
  try {
    const lading = await startLading(ctx, join(work, 'lading'));
    targets.push({ name: 'lading', reg: lading, lading });
    targets.push({ name: 'distribution', reg: await startRegistry(join(work, 'distribution')) });
    const results: Record<string, { rps: number; errors: number; blobMiBs: number; pushS: number }> = {};
    let pushRss = 0;
    for (const t of targets) {
      await seedSmall(t.reg.url);
      await pushBlobFile(t.reg.url, 'bench/big', bigDigest, 500 * 1000 * 1000, bigFile);
    }
    for (const t of targets) {
      log(`${t.name}: manifest GET by tag, ${connections} connections, ${seconds} s`);
      const load = await manifestLoad(t.reg.url, connections, seconds);
      const blob: number[] = [];
      for (let i = 0; i < runs; i++) blob.push(await blobGet(t.reg.url, 'bench/big', bigDigest, 500 * 1000 * 1000));
      // Each push goes to a fresh registry: skopeo remembers where it pushed a blob before and
      // would mount it instead of uploading.
      const push: number[] = [];
      for (let i = 0; i < runs; i++) {
        const fresh = t.lading ? await startLading(ctx, join(work, `push-lading-${i}`)) : await startRegistry(join(work, `push-distribution-${i}`));
        try {
          push.push(await skopeoPush(layout, fresh.host, 'bench/push'));
          if ('peakRss' in fresh) pushRss = Math.max(pushRss, (fresh as LadingProcess).peakRss());
        } finally {
          await fresh.stop();
        }
      }
      results[t.name] = { ...load, blobMiBs: median(blob), pushS: median(push) };
      log(`${t.name}: ${load.rps.toFixed(0)} manifest GET/s (${load.errors} errors), blob GET ${median(blob).toFixed(0)} MiB/s, skopeo push ${median(push).toFixed(2)} s`);
    }
    const rss = Math.max(lading.peakRss(), pushRss);
    const l = results.lading!;
    const d = results.distribution!;
    const row = (what: string, a: string, b: string, ok: boolean) => `${what.padEnd(34)} ${a.padStart(14)} ${b.padStart(14)}  ${ok ? 'ok' : 'BELOW TARGET'}`;
    process.stdout.write(
      [
        `${''.padEnd(34)} ${'lading'.padStart(14)} ${'distribution'.padStart(14)}`,
        row(`manifest GET by tag /s (${connections} conn)`, l.rps.toFixed(0), d.rps.toFixed(0), l.rps >= d.rps),
        row('500 MB blob GET MiB/s (median)', l.blobMiBs.toFixed(0), d.blobMiBs.toFixed(0), l.blobMiBs >= d.blobMiBs),
        row('skopeo push 300 MB, s (median)', l.pushS.toFixed(2), d.pushS.toFixed(2), l.pushS <= d.pushS),
        `lading registry peak RSS: ${(rss / MiB).toFixed(0)} MiB (target < 150 MiB) ${rss < 150 * MiB ? 'ok' : 'ABOVE TARGET'}`,
        '',
      ].join('\n'),
    );
    await writeFile(join(ctx.cacheDir, 'registry-results.json'), JSON.stringify({ date: new Date().toISOString(), connections, seconds, runs, results, ladingPeakRssBytes: rss }, null, 2));
    return 0;
  } finally {
    for (const t of targets) await t.reg.stop().catch(() => {});
    await rm(work, { recursive: true, force: true });
  }
}
