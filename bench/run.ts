import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchImage } from './image-bench.js';
import { benchPull } from './pull.js';
import { benchList } from './list.js';
import { benchRegistry } from './registry.js';
import { benchPush } from './push.js';

export interface BenchContext {
  /** The lading repository: where `bin/lading.js` and `.bench/` live. */
  repoRoot: string;
  /** Cache of generated images and results (`<repo>/.bench`, or `$LADING_BENCH_CACHE`). */
  cacheDir: string;
  log: (msg: string) => void;
  signal: AbortSignal;
}

export interface Benchmark {
  summary: string;
  /** Returns the process exit code. */
  run(args: string[], ctx: BenchContext): Promise<number>;
}

/** Add a benchmark by adding an entry here. */
const BENCHMARKS: Record<string, Benchmark> = {
  pull: { summary: 'cold pull of a generated 5-layer image: lading vs docker vs skopeo', run: benchPull },
  registry: { summary: 'lading registry vs distribution: manifest GET/s, 500 MB blob GET, skopeo push of 300 MB, peak RSS', run: benchRegistry },
  push: { summary: 'push of the generated image vs skopeo copy; save/load vs docker save/load', run: benchPush },
  image: { summary: 'generate (or reuse) the benchmark image and print its shape', run: benchImage },
  list: { summary: 'lading images and rmi on a store of 10,000 images and 50,000 tags', run: benchList },
};

/** Walk up from this file to the lading package; a build outside the repo falls back to the cwd. */
function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'lading') return dir;
      } catch {
        // not ours
      }
    }
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

function usage(): string {
  const names = Object.entries(BENCHMARKS).map(([n, b]) => `  ${n.padEnd(10)} ${b.summary}`);
  return `usage: npm run bench -- <name> [options]\n\nbenchmarks:\n${names.join('\n')}\n\nrun a benchmark with --help for its options\n`;
}

async function main(argv: string[]): Promise<number> {
  const name = argv[0];
  const bench = name ? BENCHMARKS[name] : undefined;
  if (!bench) {
    process.stderr.write((name && name !== '--help' && name !== '-h' ? `unknown benchmark: ${name}\n\n` : '') + usage());
    return name === '--help' || name === '-h' ? 0 : 2;
  }
  const repoRoot = process.env.LADING_REPO ?? findRepoRoot();
  const ac = new AbortController();
  const onSignal = () => ac.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const ctx: BenchContext = {
    repoRoot,
    cacheDir: process.env.LADING_BENCH_CACHE ?? join(repoRoot, '.bench'),
    log: (msg) => process.stderr.write(`[bench] ${msg}\n`),
    signal: ac.signal,
  };
  return bench.run(argv.slice(1), ctx);
}

process.exitCode = await main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return 1;
});
