// Times `engine.pull` of an image already in the store, in one process through the library:
// what a Node program embedding lading pays per "is it up to date?" (one manifest round trip),
// without the CLI's process start-up. Usage: node repeat-lib.js ROOT REF N; prints JSON.
import { createEngine, resolveConfig } from '../src/index.js';

const [root, ref, n] = process.argv.slice(2);
if (!root || !ref) {
  process.stderr.write('usage: repeat-lib.js ROOT REF [N]\n');
  process.exit(2);
}
const engine = createEngine(resolveConfig({ flags: { root }, env: {} }));
try {
  await engine.pull(ref); // first call: opens connections, repairs once per engine
  const times: number[] = [];
  for (let i = 0; i < Number(n ?? 20); i++) {
    const t = performance.now();
    const r = await engine.pull(ref);
    times.push(performance.now() - t);
    if (r.updated) throw new Error('the image was not present');
  }
  times.sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({ medianMs: times[Math.floor(times.length / 2)], minMs: times[0], maxMs: times.at(-1), runs: times.length }) + '\n');
} finally {
  engine.close();
}
