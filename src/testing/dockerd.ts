import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { requireTool } from './require-tool.js';

export interface TestDockerd {
  /** Environment for the docker CLI: DOCKER_HOST and a private DOCKER_CONFIG. */
  env: NodeJS.ProcessEnv;
  /** Run the docker CLI (asynchronously: an in-process registry must keep serving meanwhile). */
  docker(args: string[], timeoutMs?: number): Promise<{ status: number | null; out: string }>;
  stop(): Promise<void>;
}

function unmountUnder(dir: string): void {
  let mounts: string[] = [];
  try {
    mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m === dir || m.startsWith(`${dir}/`));
  } catch {
    return;
  }
  for (const m of mounts.sort((a, b) => b.length - a.length)) spawnSync('umount', ['-l', m]);
}

/**
 * A private Docker daemon (test-peers.md): data root, exec root and socket under `dir` (keep it
 * short: the socket path must stay under ~100 characters), no networking setup. Loopback
 * registries are insecure (plain HTTP) for it by default.
 */
export async function startDockerd(dir: string): Promise<TestDockerd> {
  const bin = await requireTool('dockerd', 'apt-get install -y docker.io');
  await requireTool('docker', 'apt-get install -y docker.io');
  await mkdir(join(dir, 'cfg'), { recursive: true });
  const sock = join(dir, 'd.sock');
  if (sock.length > 100) throw new Error(`socket path too long: ${sock}`);
  const logFile = join(dir, 'dockerd.log');
  const log = openSync(logFile, 'a');
  const child: ChildProcess = spawn(
    bin,
    ['--data-root', join(dir, 'root'), '--exec-root', join(dir, 'exec'), '-H', `unix://${sock}`, '--pidfile', join(dir, 'pid'), '--iptables=false', '--ip6tables=false', '--bridge=none'],
    { stdio: ['ignore', log, log] },
  );
  closeSync(log);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const env = { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(dir, 'cfg') };
  const docker = (args: string[], timeoutMs = 120_000) =>
    new Promise<{ status: number | null; out: string }>((resolve) => {
      execFile('docker', args, { env, encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
        const status = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        resolve({ status, out: `${stdout ?? ''}${stderr ?? ''}` });
      });
    });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(t);
    }
    unmountUnder(dir);
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if ((await docker(['version'], 10_000)).status === 0) return { env, docker, stop };
    if (child.exitCode !== null || Date.now() > deadline) {
      const tail = (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n');
      await stop();
      throw new Error(`dockerd did not start:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
