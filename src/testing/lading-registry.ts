import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveRegistryConfig, startRegistryServer, type RegistryConfigInput, type RunningRegistryServer } from '../registry/index.js';
import { freePort, waitForHttp } from './distribution.js';

export interface LadingRegistry {
  url: string;
  host: string;
  root: string;
  server: RunningRegistryServer;
  stop(): Promise<void>;
}

/** lading's registry in this process on a free loopback port, over a fresh root unless given. */
export async function startLadingRegistry(o: RegistryConfigInput & { keepRoot?: boolean } = {}): Promise<LadingRegistry> {
  const root = o.root ?? (await mkdtemp(join(tmpdir(), 'lading-registry-')));
  const config = resolveRegistryConfig({ flags: { addr: '127.0.0.1:0', ...o, root }, defaultRoot: root });
  const server = await startRegistryServer({ config });
  return {
    url: server.url,
    host: server.host,
    root,
    server,
    stop: async () => {
      await server.close({ graceMs: 2000 });
      if (!o.keepRoot && !o.root) await rm(root, { recursive: true, force: true });
    },
  };
}

export interface RegistryProcess {
  url: string;
  host: string;
  child: ChildProcess;
  /** Everything it logged. */
  output(): string;
  /** SIGTERM and wait (graceful). */
  stop(): Promise<number | null>;
  /** SIGKILL and wait: a crash. */
  kill(): Promise<void>;
}

/** `lading registry serve` as a child process (for crash and restart tests). */
export async function spawnLadingRegistry(root: string, args: string[] = [], o: { port?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RegistryProcess> {
  const port = o.port ?? (await freePort());
  // dist/src/testing → the package's bin/lading.js
  const bin = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'lading.js');
  const child = spawn(process.execPath, [bin, 'registry', 'serve', '--addr', `127.0.0.1:${port}`, '--root', root, ...args], {
    env: { ...process.env, ...(o.env ?? {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/healthz`, (s) => s === 200);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`lading registry did not start: ${(e as Error).message}\n${out}`);
  }
  return {
    url,
    host: `127.0.0.1:${port}`,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
