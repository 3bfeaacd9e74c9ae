import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireTool } from './require-tool.js';

const run = promisify(execFile);

export interface RunningDockerd {
  /** `unix:///tmp/ldXXXX/d.sock`, for DOCKER_HOST. */
  host: string;
  /** Run the docker CLI against this daemon. */
  docker(args: string[], o?: { input?: Buffer; maxBuffer?: number }): Promise<{ stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

/**
 * A Docker daemon (Debian `docker.io`) with its own data root and socket under a short /tmp path
 * (socket paths must stay under ~100 characters), no networking set up (test-peers.md).
 */
export async function startDockerd(): Promise<RunningDockerd> {
  const dockerd = await requireTool('dockerd', 'apt-get install -y docker.io');
  const docker = await requireTool('docker', 'apt-get install -y docker.io');
  const dir = await mkdtemp('/tmp/ld');
  const host = `unix://${dir}/d.sock`;
  const env = { ...process.env };
  delete env.AWS_CA_BUNDLE;
  const child: ChildProcess = spawn(
    dockerd,
    ['--data-root', join(dir, 'root'), '--exec-root', join(dir, 'exec'), '-H', host, '--pidfile', join(dir, 'pid'), '--iptables=false', '--ip6tables=false', '--bridge=none'],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const cli = (args: string[], o: { input?: Buffer; maxBuffer?: number } = {}) =>
    new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      const p = spawn(docker, args, { env: { ...process.env, DOCKER_HOST: host }, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('error', reject);
      p.on('exit', (code) => (code === 0 ? resolve({ stdout, stderr }) : reject(new Error(`docker ${args.join(' ')} exited ${code}: ${stderr}`))));
      p.stdin.end(o.input ?? Buffer.alloc(0));
    });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await run(docker, ['version'], { env: { ...process.env, DOCKER_HOST: host } });
      break;
    } catch (e) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        await rm(dir, { recursive: true, force: true }).catch(() => {});
        throw new Error(`dockerd did not start: ${(e as Error).message}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    host,
    docker: cli,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    },
  };
}
