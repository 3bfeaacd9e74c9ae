import { parseArgs } from 'node:util';
import { ensureImage, imageTotals } from './image-gen.js';
import type { BenchContext } from './run.js';

/** `bench image`: generate (or reuse) the benchmark image and describe it. */
export async function benchImage(args: string[], ctx: BenchContext): Promise<number> {
  const { values } = parseArgs({ args, options: { seed: { type: 'string' }, help: { type: 'boolean' } } });
  if (values.help) {
    process.stdout.write('usage: bench image [--seed S]\n');
    return 0;
  }
  const started = Date.now();
  const img = await ensureImage(ctx.cacheDir, { ...(values.seed ? { seed: values.seed } : {}), log: ctx.log, signal: ctx.signal });
  const t = imageTotals(img);
  for (const [i, l] of img.layers.entries()) {
    process.stdout.write(`layer ${i} ${l.description.padEnd(17)} ${String(l.entries).padStart(6)} entries ${String(l.whiteouts).padStart(4)} whiteouts ${(l.fileBytes / 1e6).toFixed(1).padStart(7)} MB files ${(l.size / 1e6).toFixed(1).padStart(7)} MB gzip  ${l.digest}\n`);
  }
  process.stdout.write(`total: ${t.entries} entries, ${t.whiteouts} whiteouts, ${(t.unpacked / 1e6).toFixed(1)} MB unpacked, ${(t.compressed / 1e6).toFixed(1)} MB compressed; manifest ${img.manifestDigest} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  return 0;
}
