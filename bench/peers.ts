import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { request } from 'undici';

/** Path of an executable on PATH, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // keep looking
    }
  }
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export interface Registry {
  /** `127.0.0.1:PORT` */
  host: string;
  url: string;
  stop(): Promise<void>;
}

/**
 * CNCF distribution on loopback (Debian `docker-registry`), storage under `dir`. Same logic as
 * src/testing/distribution.ts, kept here so the bench does not depend on test helpers.
 */
export async function startRegistry(dir: string): Promise<Registry> {
  const bin = which('docker-registry');
  if (!bin) throw new Error('docker-registry is not installed (apt-get install -y docker-registry)');
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const config = `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`;
  await writeFile(join(dir, 'config.yml'), config);
  // distribution 2.8 crashes at start when AWS_CA_BUNDLE is set.
  const env = { ...process.env };
  delete env.AWS_CA_BUNDLE;
  const child = spawn(bin, ['serve', join(dir, 'config.yml')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await request(`${url}/v2/`);
      await res.body.dump();
      if (res.statusCode === 200) break;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry did not start: ${stderr}`);
    }
    await sleep(50);
  }
  return { host: `127.0.0.1:${port}`, url, stop: () => stopChild(child, 5000) };
}

export interface DockerDaemon {
  pid: number;
  /** Environment for the docker CLI: DOCKER_HOST and a private DOCKER_CONFIG. */
  env: NodeJS.ProcessEnv;
  dir: string;
  /** Stops dockerd (it stops its containerd) and removes its data. */
  stop(o?: { keepData?: boolean }): Promise<void>;
}

/** Run the docker CLI against a daemon; returns exit status and output. */
export function docker(d: DockerDaemon, args: string[], timeoutMs = 120_000): { status: number | null; out: string } {
  const r = spawnSync('docker', args, { env: d.env, encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function unmountUnder(dir: string): void {
  let mounts: string[];
  try {
    mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m === dir || m.startsWith(dir + '/'));
  } catch {
    return;
  }
  for (const m of mounts.sort((a, b) => b.length - a.length)) spawnSync('umount', ['-l', m]);
}

/**
 * A private dockerd (data, exec root and socket under `dir`; keep `dir` short, the socket path must
 * stay under ~100 characters), without networking setup. Fails with the daemon's log when it does not come up.
 */
export async function startDockerd(dir: string, o: { timeoutMs?: number } = {}): Promise<DockerDaemon> {
  const bin = which('dockerd');
  if (!bin) throw new Error('dockerd is not installed (apt-get install -y docker.io)');
  if (!which('docker')) throw new Error('the docker CLI is not on PATH');
  await mkdir(join(dir, 'cfg'), { recursive: true });
  const sock = join(dir, 'd.sock');
  if (sock.length > 100) throw new Error(`socket path too long: ${sock}`);
  const logFile = join(dir, 'dockerd.log');
  const log = openSync(logFile, 'a');
  const child = spawn(
    bin,
    ['--data-root', join(dir, 'root'), '--exec-root', join(dir, 'exec'), '-H', `unix://${sock}`, '--pidfile', join(dir, 'pid'), '--iptables=false', '--ip6tables=false', '--bridge=none'],
    { stdio: ['ignore', log, log] },
  );
  closeSync(log);
  // Never leave a daemon behind if the bench dies.
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  const d: DockerDaemon = {
    pid: child.pid ?? 0,
    env: { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(dir, 'cfg') },
    dir,
    stop: async (so = {}) => {
      await stopChild(child, 20_000);
      process.removeListener('exit', onExit);
      unmountUnder(dir);
      if (!so.keepData) await rm(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  for (;;) {
    if (docker(d, ['version'], 10_000).status === 0) return d;
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      const tail = (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n');
      await d.stop();
      throw new Error(`dockerd did not start (${child.exitCode !== null ? `exit ${child.exitCode}` : 'timeout'}):\n${tail}`);
    }
    await sleep(200);
  }
}
