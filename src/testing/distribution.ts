import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { requireTool } from './require-tool.js';

export interface RunningRegistry {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`, the registry part of references. */
  host: string;
  dir: string;
  stop(): Promise<void>;
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

export async function waitForHttp(url: string, ok: (status: number) => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const res = await request(url);
      await res.body.dump();
      if (ok(res.statusCode)) return;
      last = `HTTP ${res.statusCode}`;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not become ready: ${String(last)}`);
}

/**
 * Start the CNCF distribution registry (Debian `docker-registry`) on a free loopback port.
 * `auth` adds a token-auth section pointing at a realm the test runs.
 */
export async function startDistribution(o: { auth?: { realm: string; service: string; issuer: string; rootCertBundle: string } } = {}): Promise<RunningRegistry> {
  const bin = await requireTool('docker-registry', 'apt-get install -y docker-registry');
  const dir = await mkdtemp(join(tmpdir(), 'lading-distribution-'));
  const port = await freePort();
  const auth = o.auth
    ? `auth:\n  token:\n    realm: ${o.auth.realm}\n    service: ${o.auth.service}\n    issuer: ${o.auth.issuer}\n    rootcertbundle: ${o.auth.rootCertBundle}\n`
    : '';
  const config = `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${auth}`;
  await writeFile(join(dir, 'config.yml'), config);
  // distribution 2.8 crashes at start when AWS_CA_BUNDLE is set (test-peers.md).
  const env = { ...process.env };
  delete env.AWS_CA_BUNDLE;
  const child: ChildProcess = spawn(bin, ['serve', join(dir, 'config.yml')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/v2/`, (s) => s === 200 || s === 401);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`docker-registry did not start: ${(e as Error).message}\n${stderr}`);
  }
  return {
    url,
    host: `127.0.0.1:${port}`,
    dir,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
