import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase, tags } from '../src/metadata/index.js';
import { ensureImage, imageTotals, pushImage } from './image-gen.js';
import { measure, waitForQuiet, type Measurement } from './measure.js';
import { docker, startDockerd, startRegistry, which, type DockerDaemon, type Registry } from './peers.js';
import type { BenchContext } from './run.js';

const USAGE = `usage: npm run bench -- push [options]

The generated 5-layer image pushed to a fresh loopback distribution registry by lading (from its
store) and by skopeo (from an OCI layout of the same image); then lading save / load next to
docker save / docker load (Docker 20.10, each loading its own archive into an empty store: a fresh
lading root, a fresh dockerd data root; nothing is deleted between measured runs).

options:
  --runs N      measured runs per tool (default 3)
  --tools LIST  comma list of push,save,load (default all)
  --seed S      image generator seed (default lading-bench)
  --keep        keep the work directory
`;

type Row = { name: string; runs: Measurement[] };

const med = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`);

export async function benchPush(args: string[], ctx: BenchContext): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      runs: { type: 'string', default: '3' },
      tools: { type: 'string', default: 'push,save,load' },
      seed: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const runs = Number(values.runs);
  const tools = new Set(values.tools.split(','));
  const log = ctx.log;
  const bin = process.env.LADING_BIN ?? join(ctx.repoRoot, 'bin', 'lading.js');
  const img = await ensureImage(ctx.cacheDir, { ...(values.seed ? { seed: values.seed } : {}), log, signal: ctx.signal });
  const t = imageTotals(img);
  log(`image: ${img.layers.length} layers, ${(t.compressed / 1e6).toFixed(1)} MB compressed, ${(t.unpacked / 1e6).toFixed(1)} MB unpacked`);
  const work = await mkdtemp('/tmp/lp-');
  const rows: Row[] = [];
  const row = (name: string) => {
    let r = rows.find((x) => x.name === name);
    if (!r) rows.push((r = { name, runs: [] }));
    return r;
  };
  const record = (name: string, m: Measurement) => {
    if (!m.ok) throw new Error(`${name} failed (exit ${m.exitCode}):\n${m.outputTail}`);
    row(name).runs.push(m);
    log(`${name}: wall ${fmt(m.wallMs)}, CPU ${fmt(m.cpuMs ?? undefined)}`);
  };
  const settle = async () => {
    spawnSync('sync');
    await waitForQuiet({ maxMs: 10_000, ioPct: 5, signal: ctx.signal });
  };
  const ladingEnv: NodeJS.ProcessEnv = { ...process.env };
  delete ladingEnv.LADING_ROOT;
  const lading = (root: string, a: string[]) => measure(process.execPath, [bin, '--root', root, ...a], { env: ladingEnv, signal: ctx.signal });
  const registries: Registry[] = [];
  let daemon: DockerDaemon | undefined;
  try {
    const src = await startRegistry(join(work, 'src'));
    registries.push(src);
    await pushImage(src.url, 'bench/app', '1', img, { signal: ctx.signal });
    const ref = `${src.host}/bench/app:1`;
    const root = join(work, 'lading');
    const pulled = await lading(root, ['pull', ref]);
    if (!pulled.ok) throw new Error(`lading pull failed: ${pulled.outputTail}`);

    if (tools.has('push')) {
      if (!which('skopeo')) throw new Error('skopeo is not installed');
      const layout = join(work, 'layout');
      const sk = spawnSync('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${layout}:app`], { encoding: 'utf8' });
      if (sk.status !== 0) throw new Error(`skopeo copy to a layout failed: ${sk.stderr}`);
      for (let i = 0; i < runs; i++) {
        // A fresh registry per run: nothing to skip, nothing to mount.
        const a = await startRegistry(join(work, `dst-l${i}`));
        registries.push(a);
        const db = openDatabase(join(root, 'lading.db'));
        db.tx((tx) => tags.set(tx, `${a.host}/bench/app`, '1', img.configDigest));
        db.close();
        await settle();
        record('lading push', await lading(root, ['push', `${a.host}/bench/app:1`]));
        const b = await startRegistry(join(work, `dst-s${i}`));
        registries.push(b);
        await settle();
        record('skopeo copy oci: -> registry', await measure('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:app`, `docker://${b.host}/bench/app:1`], { signal: ctx.signal }));
      }
    }
    if (tools.has('save') || tools.has('load')) {
      daemon = await startDockerd(join(work, 'd'));
      const pull = docker(daemon, ['pull', ref], 600_000);
      if (pull.status !== 0) throw new Error(`docker pull failed: ${pull.out}`);
      for (let i = 0; i < runs; i++) {
        const lt = join(work, `lading-${i}.tar`);
        const dt = join(work, `docker-${i}.tar`);
        await settle();
        record('lading save', await lading(root, ['save', '-o', lt, ref]));
        await settle();
        record('docker save', await measure('docker', ['save', '-o', dt, ref], { env: daemon.env, daemonPids: [daemon.pid], signal: ctx.signal }));
        if (i === 0) log(`archive sizes: lading ${((await stat(lt)).size / 1e6).toFixed(1)} MB, docker ${((await stat(dt)).size / 1e6).toFixed(1)} MB`);
        if (tools.has('load')) {
          // Nothing is deleted between measured runs: right after a big rm, extraction on this
          // ext4 is several times slower (test-peers.md). lading loads into a fresh root, Docker
          // into a fresh daemon and data root; both are removed with the work directory at the end.
          await settle();
          record('lading load', await lading(join(work, `load-${i}`), ['load', '-i', lt]));
          const fresh = await startDockerd(join(work, `dl${i}`));
          try {
            await settle();
            record('docker load', await measure('docker', ['load', '-i', dt], { env: fresh.env, daemonPids: [fresh.pid], signal: ctx.signal }));
          } finally {
            await fresh.stop({ keepData: true });
          }
        }
        await rm(lt, { force: true });
        await rm(dt, { force: true });
      }
    }
  } finally {
    await daemon?.stop().catch(() => {});
    for (const r of registries) await r.stop().catch(() => {});
    if (values.keep) log(`kept ${work}`);
    else await rm(work, { recursive: true, force: true });
  }
  const lines = [`\n${'what'.padEnd(32)} ${'median wall'.padStart(12)} ${'median CPU'.padStart(12)}  (${runs} runs)`];
  for (const r of rows) {
    const cpu = r.runs.map((m) => (m.cpuMs ?? 0) + (m.daemon?.cpuMs ?? 0));
    lines.push(`${r.name.padEnd(32)} ${fmt(med(r.runs.map((m) => m.wallMs))).padStart(12)} ${fmt(med(cpu)).padStart(12)}`);
  }
  const pair = (a: string, b: string) => {
    const x = rows.find((r) => r.name === a);
    const y = rows.find((r) => r.name === b);
    if (!x || !y) return;
    const ratio = med(x.runs.map((m) => m.wallMs)) / med(y.runs.map((m) => m.wallMs));
    lines.push(`${`${a} / ${b}`.padEnd(45)} ${ratio.toFixed(2)}  target <= 1.00  ${ratio <= 1 ? 'PASS' : 'MISS'}`);
  };
  lines.push('');
  pair('lading push', 'skopeo copy oci: -> registry');
  pair('lading save', 'docker save');
  pair('lading load', 'docker load');
  process.stdout.write(`${lines.join('\n')}\n`);
  await mkdir(ctx.cacheDir, { recursive: true });
  await writeFile(join(ctx.cacheDir, 'results-push.json'), JSON.stringify(rows.map((r) => ({ name: r.name, runs: r.runs.map((m) => ({ wallMs: m.wallMs, cpuMs: m.cpuMs, daemonCpuMs: m.daemon?.cpuMs })) })), null, 2));
  return 0;
}
