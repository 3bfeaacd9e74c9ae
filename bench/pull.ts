import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureImage, imageTotals, pushImage, type GeneratedImage } from './image-gen.js';
import { hasGnuTime, measure, waitForQuiet, type Measurement } from './measure.js';
import { docker, startDockerd, startRegistry, which, type DockerDaemon } from './peers.js';
import type { BenchContext } from './run.js';

const TOOLS = ['lading', 'lading-fetch', 'docker', 'skopeo'] as const;
type Tool = (typeof TOOLS)[number] | 'lading-repeat' | 'node-startup';

const LABEL: Record<Tool, string> = {
  lading: 'lading pull (cold)',
  'lading-fetch': 'lading fetch-only',
  docker: 'docker pull (cold)',
  skopeo: 'skopeo copy to oci:',
  'lading-repeat': 'lading pull (present)',
  'node-startup': 'node -e 0 (baseline)',
};

const USAGE = `usage: npm run bench -- pull [options]

Cold pulls of a generated 5-layer image (~326 MB unpacked, ~30k entries) from a loopback
distribution registry by lading, lading with LADING_PULL_NO_UNPACK=1, Docker 20.10 and skopeo.

options:
  --runs N           measured runs per tool (default 3)
  --warmup N         unrecorded rounds first (default 1)
  --repeat N         repeat pulls of a present image (default 5)
  --tools LIST       comma list of ${TOOLS.join(',')} (default all)
  --docker-cold M    how Docker's pulls are made cold: rmi (rmi + prune between runs, the default)
                     or restart (a fresh dockerd and data root per run, nothing deleted in between)
  --chunk-size MIB   push the image with chunked uploads of this size (default monolithic)
  --seed S           image generator seed (default lading-bench)
  --keep             keep the work directory (printed) instead of deleting it
env:
  LADING_BIN         lading launcher to run with node (default <repo>/bin/lading.js)
  LADING_BENCH_CACHE cache of generated images and results (default <repo>/.bench)
`;

interface ToolResult {
  available: boolean;
  reason?: string;
  runs: RunRecord[];
  median?: { wallMs: number; bestWallMs: number; cpuMs: number | null; peakRssBytes: number | null; daemonCpuMs?: number; daemonPeakRssBytes?: number };
  maxPeakRssBytes?: number | null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function medianOrNull(xs: Array<number | null | undefined>): number | null {
  const v = xs.filter((x): x is number => typeof x === 'number');
  return v.length ? median(v) : null;
}

function summarize(r: ToolResult): void {
  const ok = r.runs.filter((m) => m.ok);
  if (ok.length === 0) return;
  const daemonCpu = medianOrNull(ok.map((m) => m.daemon?.cpuMs));
  const daemonRss = medianOrNull(ok.map((m) => m.daemon?.peakRssBytes));
  // Docker's CPU is the client's plus the daemon's: the daemon does the work.
  const cpu = medianOrNull(ok.map((m) => (m.cpuMs === null ? null : m.cpuMs + (m.daemon?.cpuMs ?? 0))));
  r.median = {
    wallMs: median(ok.map((m) => m.wallMs)),
    bestWallMs: Math.min(...ok.map((m) => m.wallMs)),
    cpuMs: cpu,
    peakRssBytes: medianOrNull(ok.map((m) => m.peakRssBytes)),
    ...(daemonCpu !== null ? { daemonCpuMs: daemonCpu } : {}),
    ...(daemonRss !== null ? { daemonPeakRssBytes: daemonRss } : {}),
  };
  const rss = ok.map((m) => m.peakRssBytes).filter((x): x is number => x !== null);
  r.maxPeakRssBytes = rss.length ? Math.max(...rss) : null;
}

const fmtS = (ms: number | null | undefined) => (ms === null || ms === undefined ? '-' : ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`);
const fmtMiB = (b: number | null | undefined) => (b === null || b === undefined ? '-' : `${(b / 1048576).toFixed(0)} MiB`);

function lastLines(s: string, n = 6): string {
  return s.trim().split('\n').slice(-n).join('\n');
}

/** The line that says what went wrong: the first error line of a stack trace, else the last lines. */
function errorLine(s: string): string {
  const lines = s.trim().split('\n');
  return lines.find((l) => /^(\w*Error\b|Error:|error:|lading: )/.test(l.trim()))?.trim() ?? lastLines(s, 2);
}

/**
 * Before each measured run: fsync everything so one run's dirty pages are not written back during
 * the next, then let I/O and CPU pressure settle.
 */
async function settle(log: (msg: string) => void, signal: AbortSignal): Promise<Pressure> {
  spawnSync('sync');
  const q = await waitForQuiet({ maxMs: 10_000, ioPct: 5, signal });
  if (!q.quiet) log(`machine still busy after ${(q.waitedMs / 1000).toFixed(0)} s (PSI avg10 io ${q.io}%, cpu ${q.cpu}%); measuring anyway`);
  return q;
}

type Pressure = Awaited<ReturnType<typeof waitForQuiet>>;
/** A run as recorded: the measurement plus the machine's pressure just before it. */
type RunRecord = Measurement & { pressureBefore?: Pressure };

export async function benchPull(args: string[], ctx: BenchContext): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      runs: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      repeat: { type: 'string', default: '5' },
      tools: { type: 'string', default: TOOLS.join(',') },
      'docker-cold': { type: 'string', default: 'rmi' },
      'chunk-size': { type: 'string' },
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
  const repeat = Number(values.repeat);
  const warmup = Number(values.warmup);
  const tools = new Set(values.tools.split(',').map((t) => t.trim()).filter(Boolean));
  const dockerCold = values['docker-cold'];
  for (const t of tools) {
    if (!(TOOLS as readonly string[]).includes(t)) {
      process.stderr.write(`unknown tool ${t}\n\n${USAGE}`);
      return 2;
    }
  }
  if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(repeat) || repeat < 0 || !Number.isInteger(warmup) || warmup < 0 || (dockerCold !== 'rmi' && dockerCold !== 'restart')) {
    process.stderr.write(USAGE);
    return 2;
  }
  const log = ctx.log;
  const ladingBin = process.env.LADING_BIN ?? join(ctx.repoRoot, 'bin', 'lading.js');
  if (!hasGnuTime()) log('GNU time is not installed (apt-get install -y time): CPU and RSS come from /proc, less exactly');

  log('preparing the image (generated once, cached under ' + ctx.cacheDir + ')');
  const img = await ensureImage(ctx.cacheDir, { ...(values.seed ? { seed: values.seed } : {}), log, signal: ctx.signal });
  const totals = imageTotals(img);
  log(`image: ${img.layers.length} layers, ${(totals.compressed / 1e6).toFixed(1)} MB compressed, ${(totals.unpacked / 1e6).toFixed(1)} MB unpacked, ${totals.entries} entries, ${totals.whiteouts} whiteouts`);

  // Short path: dockerd's socket lives below it.
  const work = await mkdtemp('/tmp/lb-');
  let libRepeat: { medianMs: number; minMs: number; maxMs: number; runs: number } | undefined;
  const results = new Map<Tool, ToolResult>();
  let daemon: DockerDaemon | undefined;
  const registry = await startRegistry(join(work, 'reg'));
  try {
    const ref = `${registry.host}/bench/app:1`;
    const t0 = Date.now();
    const chunk = values['chunk-size'] ? Number(values['chunk-size']) * 1048576 : undefined;
    await pushImage(registry.url, 'bench/app', '1', img, { ...(chunk ? { chunkSize: chunk } : {}), signal: ctx.signal });
    log(`pushed ${ref} (${img.manifestDigest}) in ${((Date.now() - t0) / 1000).toFixed(1)} s${chunk ? ` with ${values['chunk-size']} MiB chunks` : ''}`);

    for (const t of [...TOOLS, 'lading-repeat', 'node-startup'] as Tool[]) results.set(t, { available: true, runs: [] });
    const res = (t: Tool) => results.get(t)!;
    const unavailable = (t: Tool, reason: string) => {
      res(t).available = false;
      res(t).reason = reason;
      log(`${t}: not available (${reason})`);
    };

    // Availability checks, so a missing tool is reported once and the others still run.
    if (tools.has('lading') || tools.has('lading-fetch')) {
      let reason: string | undefined;
      if (!existsSync(ladingBin)) reason = `${ladingBin} does not exist`;
      else {
        const h = spawnSync(process.execPath, [ladingBin, '--help'], { encoding: 'utf8', timeout: 30_000 });
        if (h.status !== 0) reason = `\`node ${ladingBin} --help\` failed: ${errorLine(`${h.stdout ?? ''}${h.stderr ?? ''}${h.error ? String(h.error) : ''}`)}`;
      }
      if (reason) for (const t of ['lading', 'lading-fetch', 'lading-repeat'] as const) unavailable(t, reason);
    }
    for (const t of TOOLS) if (!tools.has(t)) unavailable(t, 'not selected (--tools)');
    if (!tools.has('lading')) unavailable('lading-repeat', 'not selected (--tools)');
    if (tools.has('skopeo') && !which('skopeo')) unavailable('skopeo', 'skopeo is not installed (apt-get install -y skopeo)');
    if (tools.has('docker')) {
      try {
        daemon = await startDockerd(join(work, 'd0'));
        log(`dockerd ${daemon.pid} up at ${daemon.env.DOCKER_HOST}`);
      } catch (e) {
        unavailable('docker', (e as Error).message);
      }
    }

    const ladingEnv = (extra: Record<string, string> = {}) => {
      const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
      // The bench decides what is measured: no inherited root or switches.
      delete env.LADING_ROOT;
      if (!extra.LADING_PULL_NO_UNPACK) delete env.LADING_PULL_NO_UNPACK;
      return env;
    };
    const record = (t: Tool, m: Measurement, i: number, pressureBefore?: Pressure) => {
      if (i < 0) {
        log(`${t} warm-up: wall ${fmtS(m.wallMs)}${m.ok ? '' : ` FAILED (exit ${m.exitCode}):\n${lastLines(m.outputTail, 10)}`}`);
        return;
      }
      res(t).runs.push(pressureBefore ? { ...m, pressureBefore } : m);
      const extra = m.daemon ? `, daemon CPU ${fmtS(m.daemon.cpuMs)}, daemon peak RSS ${fmtMiB(m.daemon.peakRssBytes)}` : '';
      if (m.ok) log(`${t} run ${i + 1}: wall ${fmtS(m.wallMs)}, CPU ${fmtS(m.cpuMs)}, peak RSS ${fmtMiB(m.peakRssBytes)}${extra}`);
      else log(`${t} run ${i + 1} FAILED (exit ${m.exitCode}):\n${lastLines(m.outputTail, 10)}`);
    };
    let lastLadingRoot: string | undefined;

    // Rounds interleave the tools, so drift in the machine's state is spread over all of them.
    // Warm-up rounds are not recorded: a tool's first pull after the machine's last big delete is
    // often twice as slow here, whichever tool goes first.
    for (let i = -warmup; i < runs; i++) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const k = i + warmup;
      if (res('lading').available) {
        const root = join(work, `lading-${k}`);
        const p = await settle(log, ctx.signal);
        const m = await measure(process.execPath, [ladingBin, '--root', root, 'pull', ref], { env: ladingEnv(), signal: ctx.signal });
        record('lading', m, i, p);
        if (!m.ok) unavailable('lading', `pull failed: ${errorLine(m.outputTail)}`);
        else if (i >= 0) lastLadingRoot = root;
      }
      if (res('lading-fetch').available) {
        const p = await settle(log, ctx.signal);
        const m = await measure(process.execPath, [ladingBin, '--root', join(work, `fetch-${k}`), 'pull', ref], { env: ladingEnv({ LADING_PULL_NO_UNPACK: '1' }), signal: ctx.signal });
        record('lading-fetch', m, i, p);
        if (!m.ok) unavailable('lading-fetch', `pull failed: ${errorLine(m.outputTail)}`);
      }
      if (res('docker').available && daemon) {
        if (dockerCold === 'restart' && k > 0) {
          // A fresh daemon and data root: no deleted layer trees behind this pull (ext4 pitfall).
          await daemon.stop({ keepData: true });
          daemon = undefined;
          try {
            daemon = await startDockerd(join(work, `d${k}`));
          } catch (e) {
            unavailable('docker', (e as Error).message);
          }
        } else if (k > 0) {
          docker(daemon, ['rmi', '-f', ref]);
          docker(daemon, ['image', 'prune', '-af']);
        }
        if (daemon) {
          const left = docker(daemon, ['images', '-q']).out.trim();
          if (left) log(`docker: images left before a cold pull: ${left}`);
          const p = await settle(log, ctx.signal);
          const m = await measure('docker', ['pull', ref], { env: daemon.env, daemonPids: [daemon.pid], signal: ctx.signal });
          const id = docker(daemon, ['image', 'inspect', '-f', '{{.Id}}', ref]).out.trim();
          if (m.ok && id !== img.configDigest) {
            m.ok = false;
            m.outputTail += `\n[bench] image ID ${id} is not the config digest ${img.configDigest}`;
          }
          record('docker', m, i, p);
        }
      }
      if (res('skopeo').available) {
        const dest = join(work, `skopeo-${k}`);
        const p = await settle(log, ctx.signal);
        const m = await measure('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${dest}:app`], { signal: ctx.signal });
        if (m.ok && !existsSync(join(dest, 'index.json'))) {
          m.ok = false;
          m.outputTail += '\n[bench] no index.json in the OCI layout';
        }
        record('skopeo', m, i, p);
      }
    }

    // (d) Pulling an image that is already present: start-up plus one manifest round trip.
    if (res('lading-repeat').available) {
      if (!lastLadingRoot) unavailable('lading-repeat', 'no successful cold pull to repeat');
      else {
        for (let i = 0; i < repeat; i++) {
          const m = await measure(process.execPath, [ladingBin, '--root', lastLadingRoot, 'pull', ref], { env: ladingEnv(), signal: ctx.signal });
          record('lading-repeat', m, i);
          if (!m.ok) break;
        }
      }
    }
    // (e) The same through the library in one process: no process start-up in the figure.
    if (lastLadingRoot && repeat > 0) {
      const lib = spawnSync(process.execPath, [join(ctx.repoRoot, 'dist', 'bench', 'repeat-lib.js'), lastLadingRoot, ref, String(Math.max(repeat, 10))], {
        encoding: 'utf8',
        timeout: 120_000,
        env: ladingEnv(),
      });
      if (lib.status === 0) {
        libRepeat = JSON.parse(lib.stdout) as { medianMs: number; minMs: number; maxMs: number; runs: number };
        log(`lading-repeat via the library: median ${libRepeat.medianMs.toFixed(1)} ms over ${libRepeat.runs} pulls`);
      } else log(`lading-repeat via the library failed: ${lib.stderr.slice(-500)}`);
    }
    for (let i = 0; i < Math.max(repeat, 3); i++) record('node-startup', await measure(process.execPath, ['-e', '0']), i);
  } finally {
    await daemon?.stop().catch((e: unknown) => log(`stopping dockerd: ${String(e)}`));
    await registry.stop();
    if (values.keep) log(`kept ${work}`);
    else {
      log(`removing ${work}`);
      await rm(work, { recursive: true, force: true });
    }
  }

  for (const r of results.values()) summarize(r);
  const report = buildReport(results, img, runs, dockerCold, libRepeat);
  process.stdout.write(report.text);
  await mkdir(ctx.cacheDir, { recursive: true });
  const out = join(ctx.cacheDir, 'results-pull.json');
  await writeFile(out, JSON.stringify(report.json, null, 2) + '\n');
  log(`results written to ${out}`);
  return 0;
}

interface Target {
  name: string;
  value: number | null;
  target: string;
  status: 'PASS' | 'MISS' | 'N/A';
  note?: string;
}

function buildReport(
  results: Map<Tool, ToolResult>,
  img: GeneratedImage,
  runs: number,
  dockerCold: string,
  libRepeat: { medianMs: number } | undefined,
): { text: string; json: unknown } {
  const get = (t: Tool) => results.get(t);
  const med = (t: Tool) => get(t)?.median;
  const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined && b > 0 ? a / b : null);
  const judge = (v: number | null, pass: (v: number) => boolean): Target['status'] => (v === null ? 'N/A' : pass(v) ? 'PASS' : 'MISS');

  const ld = ratio(med('lading')?.wallMs, med('docker')?.wallMs);
  const fs = ratio(med('lading-fetch')?.wallMs, med('skopeo')?.wallMs);
  const rss = get('lading')?.maxPeakRssBytes ?? null;
  const rep = med('lading-repeat')?.wallMs ?? null;
  const targets: Target[] = [
    { name: 'lading / docker wall', value: ld, target: '<= 0.6', status: judge(ld, (v) => v <= 0.6) },
    { name: 'lading fetch-only / skopeo wall', value: fs, target: '<= 1.0', status: judge(fs, (v) => v <= 1.0) },
    { name: 'lading peak RSS (max over runs), MiB', value: rss === null ? null : rss / 1048576, target: '< 200', status: judge(rss, (v) => v < 200 * 1048576) },
    { name: 'lading repeat pull wall, ms', value: rep, target: '< 100', status: judge(rep, (v) => v < 100), note: `node start-up alone: ${fmtS(med('node-startup')?.wallMs)}` },
    {
      name: 'lading repeat pull through the library (in-process), ms',
      value: libRepeat?.medianMs ?? null,
      target: '< 100',
      status: judge(libRepeat?.medianMs ?? null, (v) => v < 100),
    },
  ];

  const t = imageTotals(img);
  const lines: string[] = [];
  lines.push('');
  lines.push(`pull benchmark: ${img.layers.length} layers, ${(t.compressed / 1e6).toFixed(1)} MB compressed, ${(t.unpacked / 1e6).toFixed(1)} MB unpacked, ${t.entries} tar entries (${t.whiteouts} whiteouts); ${runs} runs, medians (and the best wall); ${cpus().length} CPUs`);
  lines.push('');
  const head = ['tool', 'ok', 'wall', 'best wall', 'CPU', 'peak RSS', 'daemon CPU', 'daemon RSS'];
  const rows: string[][] = [];
  for (const tool of [...TOOLS, 'lading-repeat', 'node-startup'] as Tool[]) {
    const r = get(tool);
    if (!r) continue;
    if (!r.available && r.runs.filter((m) => m.ok).length === 0) {
      rows.push([LABEL[tool], 'n/a', `not available (${(r.reason ?? '').split('\n')[0]?.slice(0, 160)})`]);
      continue;
    }
    const m = r.median;
    const okRuns = r.runs.filter((x) => x.ok).length;
    rows.push([
      LABEL[tool],
      `${okRuns}/${r.runs.length}`,
      fmtS(m?.wallMs),
      fmtS(m?.bestWallMs),
      fmtS(m?.cpuMs),
      fmtMiB(m?.peakRssBytes),
      m?.daemonCpuMs !== undefined ? fmtS(m.daemonCpuMs) : '',
      m?.daemonPeakRssBytes !== undefined ? fmtMiB(m.daemonPeakRssBytes) : '',
    ]);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.filter((r) => i === 0 || r.length > 3).map((r) => (r[i] ?? '').length)));
  const fmtRow = (r: string[]) => (r.length <= 3 ? `${(r[0] ?? '').padEnd(widths[0]!)}  ${(r[1] ?? '').padEnd(widths[1]!)}  ${r[2] ?? ''}` : r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  lines.push(fmtRow(head));
  for (const r of rows) lines.push(fmtRow(r));
  lines.push('');
  lines.push(`docker CPU = client + dockerd/containerd tree; docker runs made cold by ${dockerCold === 'restart' ? 'a fresh daemon and data root' : 'rmi + image prune'}`);
  lines.push('');
  lines.push('targets:');
  for (const tg of targets) {
    const v = tg.value === null ? 'n/a' : tg.value.toFixed(tg.value < 10 ? 2 : 0);
    lines.push(`  ${tg.status.padEnd(4)}  ${tg.name}: ${v} (target ${tg.target})${tg.note ? `  [${tg.note}]` : ''}`);
  }
  lines.push('');

  const json = {
    benchmark: 'pull',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memBytes: totalmem(), node: process.version },
    image: { manifestDigest: img.manifestDigest, generatorVersion: img.version, seed: img.seed, ...t, layers: img.layers.map(({ file: _f, ...l }) => l) },
    runs,
    dockerCold,
    tools: Object.fromEntries(
      [...results.entries()].map(([k, r]) => [
        k,
        { available: r.available, ...(r.reason ? { reason: r.reason } : {}), median: r.median ?? null, maxPeakRssBytes: r.maxPeakRssBytes ?? null, runs: r.runs.map(({ outputTail, ...m }) => (m.ok ? m : { ...m, outputTail })) },
      ]),
    ),
    targets,
  };
  return { text: lines.join('\n'), json };
}
