import { spawn } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const GNU_TIME = '/usr/bin/time';
/** Kernel clock ticks per second for /proc/<pid>/stat times; 100 on every Linux we run on. */
const CLK_TCK = 100;

export interface DaemonUsage {
  /** user+sys of the daemon processes (and children they reaped) during the command. */
  cpuMs: number;
  /** Peak of the summed VmRSS of the daemon process tree, polled. */
  peakRssBytes: number;
}

export interface Measurement {
  ok: boolean;
  exitCode: number | null;
  wallMs: number;
  /** user+sys of the command and its descendants (null if it could not be read). */
  cpuMs: number | null;
  userMs: number | null;
  sysMs: number | null;
  /** Largest MaxRSS among the command's processes (GNU time %M), or polled VmHWM without it. */
  peakRssBytes: number | null;
  daemon?: DaemonUsage;
  /** The last few KiB of stdout+stderr, for error reports. */
  outputTail: string;
}

export interface MeasureOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Root pids of daemons whose process trees do work for the command (dockerd). */
  daemonPids?: number[];
  timeoutMs?: number;
  signal?: AbortSignal;
}

export function hasGnuTime(): boolean {
  try {
    accessSync(GNU_TIME, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

interface ProcStat {
  ppid: number;
  /** utime+stime+cutime+cstime in ticks. */
  ticks: number;
}

function readProcStat(pid: number): ProcStat | undefined {
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm may hold spaces and parens: fields start after the last ')'.
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): ppid = field 4, utime..cstime = fields 14..17.
  const n = (i: number) => Number(f[i - 3] ?? 0);
  return { ppid: n(4), ticks: n(14) + n(15) + n(16) + n(17) };
}

function readStatusKb(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** The roots and every process descending from them. */
export function processTree(roots: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    const pid = Number(e);
    if (!Number.isInteger(pid)) continue;
    const st = readProcStat(pid);
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(pid);
    children.set(st.ppid, list);
  }
  const out: number[] = [];
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * Watches a daemon's process tree while a command runs: CPU from /proc/<pid>/stat deltas (children
 * the daemon reaps, such as decompressors, land in its cutime/cstime), peak RSS by polling VmRSS.
 */
export class TreeSampler {
  private readonly before = new Map<number, number>();
  private pids: number[] = [];
  private peakKb = 0;
  private timer: NodeJS.Timeout | undefined;
  private polls = 0;

  constructor(private readonly roots: number[], private readonly intervalMs = 50) {}

  start(): void {
    this.pids = processTree(this.roots);
    for (const pid of this.pids) this.before.set(pid, readProcStat(pid)?.ticks ?? 0);
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  private sample(): void {
    // Rescanning /proc costs a few ms; do it every 10th poll to catch short-lived helpers.
    if (++this.polls % 10 === 0) this.pids = processTree(this.roots);
    let kb = 0;
    for (const pid of this.pids) kb += readStatusKb(pid, 'VmRSS');
    this.peakKb = Math.max(this.peakKb, kb);
  }

  stop(): DaemonUsage {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    let ticks = 0;
    for (const pid of processTree(this.roots)) {
      const now = readProcStat(pid)?.ticks;
      if (now !== undefined) ticks += now - (this.before.get(pid) ?? 0);
    }
    return { cpuMs: (ticks * 1000) / CLK_TCK, peakRssBytes: this.peakKb * 1024 };
  }
}

function selfChildTicks(): number {
  const s = readFileSync('/proc/self/stat', 'latin1');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[16 - 3] ?? 0) + Number(f[17 - 3] ?? 0);
}

/**
 * Run a command and measure it: wall time (hrtime), CPU and peak RSS of the command's process tree
 * (GNU time when installed: Debian package `time`; else /proc), and optionally a daemon's usage.
 */
export async function measure(cmd: string, args: string[], o: MeasureOptions = {}): Promise<Measurement> {
  const gnu = hasGnuTime();
  const dir = gnu ? await mkdtemp(join(tmpdir(), 'lading-measure-')) : '';
  const timeFile = join(dir, 'time');
  const argv = gnu ? [GNU_TIME, '-o', timeFile, '-f', '%e %U %S %M', cmd, ...args] : [cmd, ...args];
  const sampler = o.daemonPids?.length ? new TreeSampler(o.daemonPids) : undefined;
  const ticksBefore = gnu ? 0 : selfChildTicks();
  let tail = '';
  const keep = (d: Buffer) => {
    tail = (tail + d.toString('utf8')).slice(-4096);
  };
  sampler?.start();
  const started = process.hrtime.bigint();
  // Own process group, so a timeout or abort kills the whole tree.
  const child = spawn(argv[0]!, argv.slice(1), { env: o.env ?? process.env, ...(o.cwd ? { cwd: o.cwd } : {}), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let hwmKb = 0;
  const hwmTimer = gnu ? undefined : setInterval(() => {
    for (const pid of processTree(child.pid ? [child.pid] : [])) hwmKb = Math.max(hwmKb, readStatusKb(pid, 'VmHWM'));
  }, 50);
  const kill = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(() => {
    keep(Buffer.from(`\n[measure] timed out after ${o.timeoutMs ?? 600_000} ms\n`));
    kill();
  }, o.timeoutMs ?? 600_000);
  o.signal?.addEventListener('abort', kill, { once: true });
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  }).finally(() => {
    clearTimeout(timer);
    if (hwmTimer) clearInterval(hwmTimer);
    o.signal?.removeEventListener('abort', kill);
  });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const daemon = sampler?.stop();
  let userMs: number | null = null;
  let sysMs: number | null = null;
  let peakRssBytes: number | null = null;
  if (gnu) {
    try {
      // On failure GNU time writes "Command exited with non-zero status N" first; the figures are last.
      const last = (await readFile(timeFile, 'utf8')).trim().split('\n').pop() ?? '';
      const [, u, s, m] = last.split(' ').map(Number);
      if (u !== undefined && s !== undefined && m !== undefined && [u, s, m].every(Number.isFinite)) {
        userMs = u * 1000;
        sysMs = s * 1000;
        peakRssBytes = m * 1024;
      }
    } catch {
      // killed before time could write
    }
    await rm(dir, { recursive: true, force: true });
  } else {
    // Node reaped the child, so its (and its reaped descendants') times are in our cutime/cstime.
    userMs = ((selfChildTicks() - ticksBefore) * 1000) / CLK_TCK;
    sysMs = 0;
    peakRssBytes = hwmKb > 0 ? hwmKb * 1024 : null;
  }
  return {
    ok: exitCode === 0,
    exitCode,
    wallMs,
    cpuMs: userMs !== null && sysMs !== null ? userMs + sysMs : null,
    userMs,
    sysMs,
    peakRssBytes,
    ...(daemon ? { daemon } : {}),
    outputTail: tail,
  };
}

function pressureAvg10(kind: 'io' | 'cpu'): number | undefined {
  try {
    const m = /^some avg10=([\d.]+)/m.exec(readFileSync(`/proc/pressure/${kind}`, 'latin1'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Wait (up to `maxMs`) until the machine is quiet: the last 10 s of I/O and CPU pressure (PSI) below
 * a few percent. Deleting big trees on these ext4 disks (online discard) slows the next extraction
 * for a while; measuring then would blame the tool. Returns the pressure seen last.
 */
export async function waitForQuiet(o: { maxMs?: number; ioPct?: number; cpuPct?: number; signal?: AbortSignal } = {}): Promise<{ quiet: boolean; io?: number; cpu?: number; waitedMs: number }> {
  const started = Date.now();
  const deadline = started + (o.maxMs ?? 30_000);
  for (;;) {
    const io = pressureAvg10('io');
    const cpu = pressureAvg10('cpu');
    const quiet = (io === undefined || io < (o.ioPct ?? 2)) && (cpu === undefined || cpu < (o.cpuPct ?? 10));
    if (quiet || Date.now() >= deadline || o.signal?.aborted) return { quiet, ...(io !== undefined ? { io } : {}), ...(cpu !== undefined ? { cpu } : {}), waitedMs: Date.now() - started };
    await new Promise((r) => setTimeout(r, 500));
  }
}
